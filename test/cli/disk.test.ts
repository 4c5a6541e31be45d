/**
 * Disk faults, produced for real: a folder the process may not write (run as an unprivileged
 * user when the tests run as root), a full filesystem (a 1 MiB tmpfs, or a file-size limit where
 * mounting is not allowed), a read-only lock dir. Each: a clear error, the right exit code, the
 * old destination untouched, no temp file left.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { CLI, findLog, type LogLine, runCli } from "../helpers/cli.js";
import { bytes, sha256, useTestServer } from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

const server = useTestServer();

const isRoot = process.getuid?.() === 0;
/** Whether this process may mount a tmpfs (root in a privileged sandbox, as CI here is). */
const canMount = (() => {
  const probe = mkdtempSync(join(tmpdir(), "resilient-sync-mount-"));
  const ok = spawnSync("mount", ["-t", "tmpfs", "-o", "size=4k", "tmpfs", probe]).status === 0;
  if (ok) spawnSync("umount", ["-l", probe]);
  rmSync(probe, { recursive: true, force: true });
  return ok;
})();
const canDropPrivileges =
  isRoot &&
  spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "true"]).status === 0;

/** Runs the CLI through a shell prefix (setpriv, ulimit …) and parses its output. */
async function runWrapped(
  prefix: string[],
  args: string[],
): Promise<{ code: number | null; logs: LogLine[]; stdout: string }> {
  const child = spawn(prefix[0] as string, [...prefix.slice(1), process.execPath, CLI, ...args], {
    env: { ...process.env, RESILIENT_SYNC_DELAY_SCALE: "0.001" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => {
    stdout += c;
  });
  child.stderr.on("data", (c) => {
    stderr += c;
  });
  const [code] = (await once(child, "close")) as [number | null];
  const logs = `${stdout}\n${stderr}`
    .split("\n")
    .filter((l) => l.startsWith("{") && l.includes('"message"'))
    .map((l) => JSON.parse(l) as LogLine);
  return { code, logs, stdout };
}

describe("disk faults", () => {
  test("a destination folder the process may not write: exit 73, old destination untouched", {
    skip:
      isRoot && !canDropPrivileges
        ? "running as root and cannot drop privileges with setpriv"
        : false,
  }, async (t) => {
    const dir = await tempDir(t);
    await chmod(dir, 0o755);
    const out = join(dir, "out");
    const locks = join(dir, "locks");
    await mkdir(out);
    await mkdir(locks, { mode: 0o777 });
    await chmod(locks, 0o777);
    await writeFile(join(out, "data.bin"), "old content\n");
    await chmod(out, 0o555);
    server.route("/perm.bin", { body: bytes(10_000, 171) });
    const args = [
      "--source-url",
      server.url("/perm.bin"),
      "--destination",
      join(out, "data.bin"),
      "--lock-dir",
      locks,
    ];
    const result = isRoot
      ? await runWrapped(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"], args)
      : await runCli(args);
    assert.equal(result.code, 73);
    const failure = result.logs.find(
      (l) => l.message === "exhausted retries" || l.message === "synchronization failed",
    );
    assert.equal(failure?.error_code, "write_error");
    assert.match(String(failure?.reason), /EACCES/);
    assert.equal(await readFile(join(out, "data.bin"), "utf8"), "old content\n");
    assert.deepEqual(await listFiles(out), ["data.bin"]);
  });

  test("disk full during the write: exit 73, old destination untouched, no part file left", async (t) => {
    const dir = await tempDir(t);
    const mnt = join(dir, "small");
    await mkdir(mnt);
    const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]).status === 0;
    try {
      await diskFull(t, dir, mnt, mounted);
    } finally {
      if (mounted) spawnSync("umount", ["-l", mnt]);
    }
  });

  test("a body known to need more room than is free fails at once, exit 73, naming the bytes", {
    skip: canMount ? false : "mounting a tmpfs is not permitted here",
  }, async (t) => {
    const dir = await tempDir(t);
    const mnt = join(dir, "small");
    await mkdir(mnt);
    assert.equal(spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]).status, 0);
    try {
      const destination = join(mnt, "data.bin");
      await writeFile(destination, "old content\n");
      server.route("/too-big.bin", { body: bytes(3 * 1024 * 1024, 174) });
      const result = await runCli([
        "--source-url",
        server.url("/too-big.bin"),
        "--destination",
        destination,
        "--lock-dir",
        join(dir, "locks"),
      ]);
      assert.equal(result.code, 73, result.stderr);
      const failure = result.logs.find(
        (l) => l.message === "synchronization failed" || l.message === "exhausted retries",
      );
      assert.match(String(failure?.reason), /3145728 bytes needed, \d+ bytes free/);
      assert.equal(server.requestsFor("/too-big.bin").length, 1, "not retried");
      assert.equal(await readFile(destination, "utf8"), "old content\n");
      assert.deepEqual(await listFiles(mnt), ["data.bin"], "no part file written");
    } finally {
      spawnSync("umount", ["-l", mnt]);
    }
  });

  for (const [what, chunked] of [
    ["a stated size above --max-filesize fails before a byte is written", false],
    ["a body of unknown size growing past --max-filesize fails as it does", true],
  ] as const) {
    test(`${what}: exit 73, its part removed, the old destination kept`, async (t) => {
      const dir = await tempDir(t);
      const path = `/max-${chunked ? "chunked" : "stated"}.bin`;
      server.route(path, { body: bytes(3 * 1024 * 1024, 175), chunked });
      const destination = join(dir, "out", "data.bin");
      await mkdir(join(dir, "out"));
      await writeFile(destination, "old content\n");
      const result = await runCli([
        "--source-url",
        server.url(path),
        "--destination",
        destination,
        "--lock-dir",
        join(dir, "locks"),
        "--max-filesize",
        "1M",
      ]);
      assert.equal(result.code, 73, result.stderr);
      const failure = result.logs.find(
        (l) => l.message === "synchronization failed" || l.message === "exhausted retries",
      );
      assert.match(String(failure?.reason), /larger than --max-filesize \(1048576 bytes\)/);
      assert.equal(server.requestsFor(path).length, 1, "not retried");
      assert.equal(await readFile(destination, "utf8"), "old content\n");
      assert.deepEqual(await listFiles(join(dir, "out")), ["data.bin"], "the part is removed");
    });
  }

  async function diskFull(
    t: TestContext,
    dir: string,
    mnt: string,
    mounted: boolean,
  ): Promise<void> {
    const destination = join(mnt, "data.bin");
    await writeFile(destination, "old content\n");
    // No Content-Length: the size is not known up front, so the disk really fills up.
    server.route("/full.bin", { body: bytes(3 * 1024 * 1024, 172), chunked: true });
    const args = [
      "--source-url",
      server.url("/full.bin"),
      "--destination",
      destination,
      "--lock-dir",
      join(dir, "locks"),
    ];
    // Without the right to mount, a file-size limit makes the write fail just the same (EFBIG).
    const result = mounted
      ? await runCli(args)
      : await runWrapped(
          ["bash", "-c", 'trap "" XFSZ; ulimit -f 1024; exec "$@"', "limited"],
          args,
        );
    t.diagnostic(
      mounted ? "produced with a 1 MiB tmpfs (ENOSPC)" : "produced with ulimit -f (EFBIG)",
    );
    assert.equal(result.code, 73);
    const failure = result.logs.find(
      (l) => l.message === "synchronization failed" || l.message === "exhausted retries",
    );
    assert.equal(failure?.error_code, "write_error");
    assert.match(String(failure?.reason), mounted ? /ENOSPC/ : /EFBIG/);
    assert.equal(await readFile(destination, "utf8"), "old content\n");
    assert.deepEqual(await listFiles(mnt), ["data.bin"]);
    assert.equal(server.requestsFor("/full.bin").length, 1, "a full disk is not retried");
  }

  test("a lock dir that is full: the destination is synced, the marker that cannot be written is a warning, no lock is left", {
    skip: canMount
      ? false
      : "mounting a tmpfs is not permitted here, and a lock dir cannot be filled otherwise",
  }, async (t) => {
    const dir = await tempDir(t);
    const locks = join(dir, "locks");
    await mkdir(locks);
    assert.equal(
      spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", locks]).status,
      0,
      "mount tmpfs",
    );
    try {
      // Fill every block; empty files (the environment probe) can still be created.
      await writeFile(join(locks, "filler"), Buffer.alloc(64 * 1024)).catch(() => {});
      server.route("/full-locks.bin", { body: bytes(100, 173) });
      const result = await runCli([
        "--source-url",
        server.url("/full-locks.bin"),
        "--destination",
        join(dir, "out", "d.bin"),
        "--lock-dir",
        locks,
        "--json",
      ]);
      // The lease lives beside the destination; only the marker needed the full lock dir, and
      // the destination was already replaced when it failed.
      assert.equal(result.code, 0, result.stderr);
      assert.equal(JSON.parse(result.stdout).results[0].status, "synced");
      assert.ok(findLog(result, "state not recorded"));
      assert.equal(sha256(await readFile(join(dir, "out", "d.bin"))), sha256(bytes(100, 173)));
      for (const folder of [locks, join(dir, "out")]) {
        const { readdir } = await import("node:fs/promises");
        assert.deepEqual(
          (await readdir(folder)).filter((name) => name.endsWith(".lock")),
          [],
          `no lock left in ${folder}`,
        );
      }
    } finally {
      spawnSync("umount", ["-l", locks]);
    }
  });

  test("a runtime older than the one required: exit 42 naming it, nothing written", async (t) => {
    const dir = await tempDir(t);
    // Node 18 stood in for by a preload that rewrites the version the run reads.
    const preload = join(dir, "node18.cjs");
    await writeFile(
      preload,
      'Object.defineProperty(process, "versions", { value: { ...process.versions, node: "18.19.0" } });\n',
    );
    const out = join(dir, "out");
    const result = await runCli(
      [
        "--source-url",
        server.url("/any.bin"),
        "--destination",
        join(out, "x.bin"),
        "--lock-dir",
        join(out, "locks"),
      ],
      { env: { NODE_OPTIONS: `--require ${preload}` } },
    );
    assert.equal(result.code, 42, result.stderr);
    const unfit = findLog(result, "environment unfit");
    assert.equal(unfit?.check, "runtime");
    assert.match(String(unfit?.reason), /Node\.js 18\.19\.0 is too old/);
    assert.deepEqual(await listFiles(dir), ["node18.cjs"]);
  });

  test("a lock dir on a read-only path: exit 42, nothing written", async (t) => {
    const dir = await tempDir(t);
    const result = await runCli([
      "--source-url",
      server.url("/any.bin"),
      "--destination",
      join(dir, "out", "x.bin"),
      "--lock-dir",
      "/proc/resilient-sync/locks",
    ]);
    assert.equal(result.code, 42);
    assert.equal(findLog(result, "environment unfit")?.check, "lock_dir");
    assert.deepEqual(await listFiles(dir), []);
  });
});

describe("damaged state falls back safely", () => {
  const damage = ["", '{"source":', '{"foreign":true}', "\u0000\u0001binary"];
  for (const [index, content] of damage.entries()) {
    test(`a damaged marker (${JSON.stringify(content).slice(0, 20)}): a warning, then a re-download — never a wrong up-to-date`, async (t) => {
      const dir = await tempDir(t);
      const path = `/damaged-${index}.bin`;
      server.route(path, { body: bytes(5000, 180 + index) });
      const common = [
        "--source-url",
        server.url(path),
        "--destination",
        join(dir, "data.bin"),
        "--lock-dir",
        join(dir, "locks"),
      ];
      assert.equal((await runCli(common)).code, 0);
      const [marker] = (await listFiles(join(dir, "locks"))).filter((f) =>
        f.endsWith(".marker.json"),
      );
      assert.ok(marker);
      await writeFile(join(dir, "locks", marker), content);
      await writeFile(join(dir, "data.bin"), "tampered\n");
      const result = await runCli(common);
      assert.equal(result.code, 0, JSON.stringify(result.logs));
      assert.ok(findLog(result, "ignored unreadable state"));
      assert.equal(sha256(await readFile(join(dir, "data.bin"))), sha256(bytes(5000, 180 + index)));
    });
  }

  test("a damaged circuit file: a warning, and the circuit reads closed", async (t) => {
    const dir = await tempDir(t);
    server.route("/circuit-damage.bin", {
      body: bytes(100, 190),
      script: [{ kind: "status", status: 500 }],
    });
    const common = [
      "--source-url",
      server.url("/circuit-damage.bin"),
      "--destination",
      join(dir, "d.bin"),
      "--lock-dir",
      join(dir, "locks"),
      "--max-retries",
      "1",
    ];
    assert.equal((await runCli(common)).code, 70);
    const [circuit] = (await listFiles(join(dir, "locks"))).filter((f) => f.startsWith("circuit-"));
    assert.ok(circuit);
    await writeFile(join(dir, "locks", circuit), "{truncated");
    const result = await runCli(common);
    assert.equal(result.code, 0);
    assert.ok(findLog(result, "ignored unreadable state"));
  });

  test("a damaged partial record: the part file is not trusted, the file is fetched whole", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(1_000_000, 191);
    server.route("/partial-damage.bin", { body, script: [{ kind: "stall", afterBytes: 500_000 }] });
    const common = [
      "--source-url",
      server.url("/partial-damage.bin"),
      "--destination",
      join(dir, "d.bin"),
      "--lock-dir",
      join(dir, "locks"),
    ];
    assert.equal(
      (
        await runCli([
          ...common,
          "--timeout",
          "0.3",
          "--max-retries",
          "1",
          "--circuit-threshold",
          "9",
        ])
      ).code,
      70,
    );
    const [partial] = (await listFiles(join(dir, "locks"))).filter((f) => f.endsWith(".part.json"));
    assert.ok(partial);
    await writeFile(join(dir, "locks", partial), "not json");
    const result = await runCli(common);
    assert.equal(result.code, 0);
    assert.equal(findLog(result, "download successful")?.resumed_from, 0);
    assert.equal(sha256(await readFile(join(dir, "d.bin"))), sha256(body));
  });
});
