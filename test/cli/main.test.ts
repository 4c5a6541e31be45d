import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { copyFile, mkdir, readdir, readFile, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { findLog, messages, runCli } from "../helpers/cli.js";
import { bytes, sha256, useTestServer } from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

const PROJECT = fileURLToPath(new URL("../../../", import.meta.url));
const SAMPLE = join(PROJECT, "sample.csv");

const server = useTestServer();

async function fakeRoot(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const root = await tempDir(t);
  await copyFile(SAMPLE, join(root, "sample.csv"));
  return root;
}

describe("the single-pair defaults", () => {
  test("no arguments syncs the bundled sample into <root>/reports/resilient-sync/", async (t) => {
    const root = await fakeRoot(t);
    const first = await runCli([], { env: { REPO_ROOT: root } });
    assert.equal(first.code, 0, first.stderr);
    const destination = join(root, "reports", "resilient-sync", "sample.csv");
    assert.equal(await readFile(destination, "utf8"), await readFile(SAMPLE, "utf8"));
    const second = await runCli([], { env: { REPO_ROOT: root } });
    assert.equal(second.code, 0);
    assert.ok(findLog(second, "destination already up-to-date"));
  });

  test("the Bash wrapper runs the same program with the same arguments", async (t) => {
    const root = await fakeRoot(t);
    const child = spawn(
      "bash",
      [
        join(PROJECT, "scripts", "resilient_data_sync.sh"),
        "--lock-dir",
        join(root, "custom-locks"),
      ],
      {
        env: { ...process.env, REPO_ROOT: root },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    const [code] = await once(child, "close");
    assert.equal(code, 0);
    assert.match(stdout, /"message":"updated destination"/);
    assert.equal(
      await readFile(join(root, "reports", "resilient-sync", "sample.csv"), "utf8"),
      await readFile(SAMPLE, "utf8"),
    );
  });
});

describe("the Bash wrapper through links", () => {
  test("run through a symlink (in a bin folder, a link to that link, one reached through a linked folder): the same program", async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, "bin"));
    const first = join(dir, "bin", "rds");
    await symlink(join(PROJECT, "scripts", "resilient_data_sync.sh"), first);
    // A relative link to the first link, from another folder.
    await mkdir(join(dir, "other"));
    await symlink(join("..", "bin", "rds"), join(dir, "other", "rds"));
    const version = JSON.parse(await readFile(join(PROJECT, "package.json"), "utf8")).version;
    // Reached through a linked folder, a link whose target climbs with `..`: that is the linked
    // folder's real parent (`real/`, holding a link to the checkout), not the parent its path
    // spells (the test folder, whose own `checkout/` must not be used).
    await mkdir(join(dir, "real", "bin"), { recursive: true });
    await symlink(PROJECT, join(dir, "real", "checkout"));
    await symlink(
      join("..", "checkout", "scripts", "resilient_data_sync.sh"),
      join(dir, "real", "bin", "rds"),
    );
    await symlink(join(dir, "real", "bin"), join(dir, "linked-bin"));
    await mkdir(join(dir, "checkout", "scripts"), { recursive: true });
    for (const command of [first, join(dir, "other", "rds"), join(dir, "linked-bin", "rds")]) {
      const child = spawn("bash", [command, "--version"], {
        cwd: dir,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      child.stdout.on("data", (chunk) => {
        stdout += chunk;
      });
      const [code] = await once(child, "close");
      assert.equal(code, 0, `${command}: exit ${code}`);
      assert.match(stdout, new RegExp(version.replaceAll(".", "\\.")));
    }
  });
});

describe("local file sources", () => {
  test("file:// URLs and plain paths; an unchanged file is not read again; a changed one is", async (t) => {
    const dir = await tempDir(t);
    const source = join(dir, "source.csv");
    await writeFile(source, "a,b\n1,2\n");
    for (const [form, value] of [
      ["url", `file://${source}`],
      ["path", source],
    ]) {
      const destination = join(dir, `copy-${form}.csv`);
      const common = [
        "--source-url",
        value as string,
        "--destination",
        destination,
        "--lock-dir",
        join(dir, "locks"),
      ];
      assert.equal((await runCli(common)).code, 0);
      const unchanged = await runCli(common);
      assert.equal(
        findLog(unchanged, "destination already up-to-date")?.reason,
        "source not modified",
      );
      assert.equal(findLog(unchanged, "download successful"), undefined);
    }
    await writeFile(source, "a,b\n1,2\n3,4\n");
    await utimes(source, new Date(), new Date(Date.now() + 5000));
    const changed = await runCli([
      "--source-url",
      source,
      "--destination",
      join(dir, "copy-path.csv"),
      "--lock-dir",
      join(dir, "locks"),
    ]);
    assert.equal(changed.code, 0);
    assert.equal(await readFile(join(dir, "copy-path.csv"), "utf8"), "a,b\n1,2\n3,4\n");
  });

  test("a missing local file fails permanently as not_found", async (t) => {
    const dir = await tempDir(t);
    const result = await runCli([
      "--source-url",
      join(dir, "absent.csv"),
      "--destination",
      join(dir, "x.csv"),
      "--lock-dir",
      join(dir, "locks"),
      "--json",
    ]);
    assert.equal(result.code, 70);
    const report = JSON.parse(result.stdout);
    assert.equal(report.results[0].error.code, "not_found");
    assert.equal(report.results[0].attempts, 1);
  });
});

describe("logs", () => {
  test("every line has the SPEC keys in order; info on stdout, warnings and errors on stderr", async (t) => {
    const dir = await tempDir(t);
    server.route("/logged.bin", {
      body: bytes(1000, 61),
      script: [{ kind: "status", status: 503 }],
    });
    const runId = "0123456789abcdef0123456789abcdef";
    const result = await runCli(
      [
        "--source-url",
        server.url("/logged.bin"),
        "--destination",
        join(dir, "d.bin"),
        "--lock-dir",
        join(dir, "locks"),
      ],
      { env: { RUN_ID: runId } },
    );
    assert.equal(result.code, 0, result.stderr);
    const pkg = JSON.parse(await readFile(join(PROJECT, "package.json"), "utf8"));
    for (const line of result.logs) {
      assert.deepEqual(Object.keys(line).slice(0, 7), [
        "ts",
        "level",
        "message",
        "script",
        "run_id",
        "pid",
        "version",
      ]);
      assert.match(line.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      assert.equal(line.script, "resilient-sync");
      assert.equal(line.run_id, runId);
      assert.equal(typeof line.pid, "number");
      assert.equal(line.version, pkg.version);
    }
    assert.ok(result.stdoutLogs.every((l) => l.level === "debug" || l.level === "info"));
    assert.ok(result.stderrLogs.every((l) => l.level === "warning" || l.level === "error"));
    assert.deepEqual(
      result.stderrLogs.map((l) => l.message),
      ["download failed"],
    );
    assert.ok(
      result.stdout.split("\n").every((line) => line === "" || line.startsWith("{")),
      "stdout is JSON only",
    );
  });

  test("a run id is 32 lowercase hex when $RUN_ID is not set", async (t) => {
    const dir = await tempDir(t);
    const result = await runCli(
      ["--source-url", SAMPLE, "--destination", join(dir, "s.csv"), "--lock-dir", join(dir, "l")],
      {
        env: { RUN_ID: undefined },
      },
    );
    assert.match(String(result.logs[0]?.run_id), /^[0-9a-f]{32}$/);
  });

  test("a malformed $RUN_ID: exit 64 naming $RUN_ID, its value nowhere, nothing written", async (t) => {
    const dir = await tempDir(t);
    const result = await runCli(
      ["--source-url", SAMPLE, "--destination", join(dir, "s.csv"), "--lock-dir", join(dir, "l")],
      { env: { RUN_ID: "not-a-run-id" } },
    );
    assert.equal(result.code, 64, result.stderr);
    assert.equal(result.logs.length, 1, result.stderr);
    assert.equal(result.logs[0]?.argument, "$RUN_ID");
    assert.match(String(result.logs[0]?.run_id), /^[0-9a-f]{32}$/);
    assert.ok(!result.stderr.includes("not-a-run-id"), result.stderr);
    assert.deepEqual(await listFiles(dir), []);
  });

  test("--json writes the results document to stdout and every log line to stderr", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(4096, 62);
    server.route("/doc.bin", { body });
    const result = await runCli([
      "--source-url",
      server.url("/doc.bin"),
      "--destination",
      join(dir, "doc.bin"),
      "--lock-dir",
      join(dir, "locks"),
      "--json",
    ]);
    assert.equal(result.code, 0);
    assert.equal(result.stdoutLogs.length, 0);
    assert.ok(findLog(result, "synchronization complete"));
    const report = JSON.parse(result.stdout);
    assert.equal(report.exit_code, 0);
    assert.match(report.run_id, /^[0-9a-f]{32}$/);
    assert.deepEqual(report.summary, {
      total: 1,
      synced: 1,
      unchanged: 0,
      skipped: 0,
      failed: 0,
      bytes: 4096,
    });
    assert.deepEqual(Object.keys(report.results[0]), [
      "source",
      "destination",
      "status",
      "checksum",
      "algorithm",
      "bytes",
      "attempts",
      "duration_ms",
      "error",
    ]);
    assert.equal(report.results[0].checksum, sha256(body));
    assert.equal(report.results[0].error, null);
  });

  test("--quiet prints only warnings and errors", async (t) => {
    const dir = await tempDir(t);
    const result = await runCli([
      "--source-url",
      SAMPLE,
      "--destination",
      join(dir, "s.csv"),
      "--lock-dir",
      join(dir, "l"),
      "--quiet",
    ]);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, "");
  });

  test("--log-level debug adds the environment check", async (t) => {
    const dir = await tempDir(t);
    const result = await runCli([
      "--source-url",
      SAMPLE,
      "--destination",
      join(dir, "s.csv"),
      "--lock-dir",
      join(dir, "l"),
      "--log-level",
      "debug",
    ]);
    assert.ok(messages(result).includes("validated environment"));
  });
});

describe("environment and deadline", () => {
  test("a destination that is a directory: exit 73, the directory untouched", async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, "taken", "inner"), { recursive: true });
    const result = await runCli([
      "--source-url",
      SAMPLE,
      "--destination",
      join(dir, "taken"),
      "--lock-dir",
      join(dir, "locks"),
      "--json",
    ]);
    assert.equal(result.code, 73);
    assert.equal(JSON.parse(result.stdout).results[0].error.code, "write_error");
    assert.equal(
      findLog(result, "synchronization failed")?.error_code,
      "write_error",
      "the cause is logged",
    );
    assert.deepEqual(await readdir(join(dir, "taken")), ["inner"]);
  });

  test("a lock dir that cannot be created is an unfit environment: exit 42, nothing written", async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, "a-file"), "");
    const result = await runCli([
      "--source-url",
      SAMPLE,
      "--destination",
      join(dir, "out", "s.csv"),
      "--lock-dir",
      join(dir, "a-file", "locks"),
    ]);
    assert.equal(result.code, 42);
    assert.equal(findLog(result, "environment unfit")?.check, "lock_dir");
    await assert.rejects(readFile(join(dir, "out", "s.csv")));
  });

  test("--deadline bounds the whole run: a slow transfer fails as deadline, exit 70", async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, "out"));
    server.route("/slow.bin", {
      body: bytes(100_000, 63),
      script: [
        { kind: "status", status: 503 },
        { kind: "drip", chunkBytes: 1000, intervalMs: 100 },
      ],
    });
    const started = Date.now();
    const result = await runCli([
      "--source-url",
      server.url("/slow.bin"),
      "--destination",
      join(dir, "out", "slow.bin"),
      "--lock-dir",
      join(dir, "locks"),
      "--deadline",
      "0.5",
      "--json",
    ]);
    assert.equal(result.code, 70);
    assert.ok(Date.now() - started < 5000);
    const report = JSON.parse(result.stdout);
    assert.equal(report.results[0].status, "failed");
    assert.equal(report.results[0].error.code, "deadline");
    // What the pair spent before the deadline is reported (it said 0 attempts, 0 bytes).
    assert.equal(report.results[0].attempts, 2);
    assert.ok(report.results[0].bytes >= 1000, `bytes: ${report.results[0].bytes}`);
    assert.equal(report.summary.bytes, report.results[0].bytes);
    await assert.rejects(readFile(join(dir, "out", "slow.bin")));
  });
});

describe("secrets", () => {
  test("userinfo, Authorization and query tokens never reach logs or results", async (t) => {
    const dir = await tempDir(t);
    server.route("/secret.bin", {
      body: bytes(100, 64),
      script: [
        { kind: "status", status: 500 },
        { kind: "status", status: 404 },
      ],
    });
    const url = new URL(server.url("/secret.bin?token=TOPSECRETTOKEN&plain=visible"));
    url.username = "alice";
    url.password = "hunter2pass";
    const result = await runCli([
      "--source-url",
      url.href,
      "--destination",
      join(dir, "s.bin"),
      "--lock-dir",
      join(dir, "locks"),
      "--header",
      "Authorization: Bearer SUPERSECRETBEARER",
      "--json",
    ]);
    assert.equal(result.code, 70);
    const everything = result.stdout + result.stderr;
    for (const secret of ["TOPSECRETTOKEN", "hunter2pass", "SUPERSECRETBEARER"]) {
      assert.ok(!everything.includes(secret), `${secret} leaked`);
    }
    assert.ok(everything.includes("plain=visible"), "harmless query parameters stay");
    assert.ok(everything.includes("token=***"));
    const sent = server.requestsFor("/secret.bin")[0];
    assert.equal(
      sent?.headers.authorization,
      "Bearer SUPERSECRETBEARER",
      "the header is still sent",
    );
  });
});
