/**
 * The flags people type without reading the manual, and the old scripts' flags: short options,
 * `-o FILE` and `-o -`, typo suggestions, the Python sibling's `--retries`, `--backoff-factor`,
 * `--script-name`, `--verbose` and its `--json` shape.
 */
import assert from "node:assert/strict";
import { closeSync, openSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { findLog, messages, runCli, runForBytes } from "../helpers/cli.js";
import { bytes, sha256, useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const server = useTestServer();

describe("everyday flags", () => {
  test("-V prints the version; -q hides info lines; -v shows debug; --log-level warn is warning", async (t) => {
    const dir = await tempDir(t);
    const pkg = JSON.parse(
      await readFile(new URL("../../../package.json", import.meta.url), "utf8"),
    );
    const version = await runCli(["-V"]);
    assert.equal(version.stdout, `${pkg.version}\n`);
    server.route("/flags/a.bin", { body: bytes(100, 1) });
    const target = ["-o", join(dir, "a.bin"), server.url("/flags/a.bin")];
    const own = { env: { REPO_ROOT: dir } };
    const quiet = await runCli(["-q", ...target], own);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.deepEqual(quiet.logs, [], "no info line with -q");
    const verbose = await runCli(["-v", ...target, "--force"], own);
    assert.ok(
      verbose.logs.some((line) => line.level === "debug"),
      "debug lines with -v",
    );
    // "every default filled in": the settings the run goes by, not a few of them.
    const settings = findLog(verbose, "run settings");
    for (const [field, value] of Object.entries({
      circuit_ttl_ms: 300_000,
      circuit_threshold: 1,
      wait_lock_ms: 0,
      deadline_ms: null,
      split: 1,
      limit_rate: null,
      pattern: "**/*",
      force: true,
      dry_run: false,
      state: "local",
    }))
      assert.deepEqual(settings?.[field], value, field);
    assert.equal(typeof settings?.lock_dir, "string");
    const warn = await runCli(["--log-level", "warn", ...target], own);
    assert.equal(warn.code, 0, warn.stderr);
    assert.deepEqual(warn.logs, []);
    const both = await runCli(["-q", "-v", ...target]);
    assert.equal(both.code, 64);
    assert.match(both.stderr, /contradict/);
  });

  test("-o FILE is the destination; with --destination too it is refused", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(3000, 2);
    server.route("/flags/o.bin", { body });
    const run = await runCli(["-o", join(dir, "o.bin"), server.url("/flags/o.bin")]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await readFile(join(dir, "o.bin")), body);
    const twice = await runCli([
      "-o",
      join(dir, "x"),
      "--destination",
      join(dir, "y"),
      server.url("/flags/o.bin"),
    ]);
    assert.equal(twice.code, 64);
    assert.match(twice.stderr, /both name the destination/);
    // `--destination -` is stdout, as curl's `--output -`: it used to write a file named `-`.
    const cwd = await tempDir(t);
    const dash = await runForBytes(["--destination", "-", server.url("/flags/o.bin")], { cwd });
    assert.equal(dash.code, 0, dash.err);
    assert.deepEqual(dash.out, body);
    assert.deepEqual(await readdir(cwd), []);
  });

  test("-o - streams to stdout, resumes after a reset, and checks --checksum", async () => {
    const body = bytes(200_000, 5);
    server.route("/flags/stream.bin", { body, script: [{ kind: "reset", afterBytes: 50_000 }] });
    const run = await runForBytes(["-o", "-", server.url("/flags/stream.bin")]);
    assert.equal(run.code, 0, run.err);
    assert.equal(sha256(run.out), sha256(body));
    const requests = server.requestsFor("/flags/stream.bin");
    assert.equal(requests.length, 2);
    assert.match(String(requests[1]?.headers.range), /^bytes=\d+-$/);
    assert.doesNotMatch(run.err, /"message":"validated environment"/, "no state touched");
    server.route("/flags/stream2.bin", { body });
    const bad = await runForBytes([
      "-o",
      "-",
      "--checksum",
      "0".repeat(64),
      server.url("/flags/stream2.bin"),
    ]);
    assert.equal(bad.code, 65, bad.err);
    assert.match(bad.err, /checksum mismatch/);
  });

  test("-o - refuses what it cannot honour, honours --max-filesize, and keeps going while bytes come", async () => {
    const body = bytes(400_000, 9);
    server.route("/flags/cap.bin", { body });
    for (const flag of [
      ["--dry-run"],
      ["--metrics-file", "/tmp/x.prom"],
      ["--split", "4"],
      ["--progress"],
    ]) {
      const refused = await runForBytes(["-o", "-", ...flag, server.url("/flags/cap.bin")]);
      assert.equal(refused.code, 64, `${flag[0]}: ${refused.err}`);
      assert.equal(refused.out.length, 0);
    }
    server.route("/flags/held.bin", { body, script: [{ kind: "hold-answer" }] });
    const late = await runForBytes(["-o", "-", "--deadline", "1", server.url("/flags/held.bin")]);
    server.release();
    assert.equal(late.code, 70, late.err);
    assert.match(late.err, /"error_code":"deadline"/);
    const capped = await runForBytes([
      "-o",
      "-",
      "--max-filesize",
      "100k",
      server.url("/flags/cap.bin"),
    ]);
    assert.equal(capped.code, 73, capped.err);
    assert.ok(capped.out.length <= 100 * 1024);
    // Four cuts, each after more than 64 KiB of progress: free attempts, as for a file.
    const cuts = Array.from({ length: 4 }, (_, i) => ({
      kind: "reset" as const,
      afterBytes: 80_000 + i,
    }));
    server.route("/flags/flaky.bin", { body, script: cuts });
    const flaky = await runForBytes([
      "-o",
      "-",
      "--max-retries",
      "2",
      server.url("/flags/flaky.bin"),
    ]);
    assert.equal(flaky.code, 0, flaky.err);
    assert.equal(sha256(flaky.out), sha256(body));
  });

  test("a failure of a URL with a user and password does not call it a redirect", async (t) => {
    const dir = await tempDir(t);
    server.route("/flags/auth.bin", {
      body: bytes(10, 1),
      script: [{ kind: "status", status: 404 }],
    });
    const url = server.url("/flags/auth.bin").replace("http://", "http://user:pw@");
    const run = await runCli(["-o", join(dir, "a"), url], { env: { REPO_ROOT: dir } });
    assert.equal(run.code, 70, run.stderr);
    assert.match(run.stderr, /HTTP 404/);
    assert.doesNotMatch(run.stderr, /redirected from/);
    assert.doesNotMatch(run.stderr, /pw@/);
  });

  test("-o FILE with many sources, or -o URL (the file name forgotten), is refused", async () => {
    const many = await runCli(["-o", "x", "http://127.0.0.1:1/a", "http://127.0.0.1:1/b"]);
    assert.equal(many.code, 64);
    assert.match(many.stderr, /use --artifact-root DIR/);
    const folder = await runForBytes(["-o", "-", "."]);
    assert.equal(folder.code, 64, folder.err);
    assert.match(folder.err, /is a directory/);
    const url = await runCli(["-o", "http://127.0.0.1:1/a?token=secret"]);
    assert.equal(url.code, 64);
    assert.match(url.stderr, /takes a file name, got the URL http:\/\/127\.0\.0\.1:1\/a:/);
    assert.doesNotMatch(url.stderr, /secret/);
  });

  test("-o - into a full disk (/dev/full) is a write failure (73), never a success", async (t) => {
    server.route("/flags/full.bin", { body: bytes(100_000, 10) });
    const full = openSync("/dev/full", "w");
    t.after(() => closeSync(full));
    const run = await runForBytes(["-o", "-", server.url("/flags/full.bin")], { stdoutFd: full });
    assert.equal(run.code, 73, run.err);
    assert.match(run.err, /stdout did not take the whole body/);
    assert.doesNotMatch(run.err, /download successful/);
  });

  test("-o - never continues with a range of another version (a server ignoring If-Range)", async () => {
    const v1 = bytes(100_000, 8);
    const v2 = bytes(100_000, 9);
    server.route("/flags/changing.bin", {
      body: v1,
      ignoreIfRange: true,
      script: [
        { kind: "reset", afterBytes: 30_000 },
        { kind: "change", body: v2 },
      ],
    });
    const run = await runForBytes(["-o", "-", server.url("/flags/changing.bin")]);
    assert.equal(run.code, 70, run.err);
    assert.match(run.err, /does not prove it is the version already written/);
    assert.deepEqual(run.out, v1.subarray(0, run.out.length), "v1's first bytes only, no v2");
  });

  test("-o - from a source that cannot resume fails rather than writing bytes twice", async () => {
    const body = bytes(100_000, 6);
    server.route("/flags/noresume.bin", {
      body,
      ignoreRange: true,
      script: [{ kind: "reset", afterBytes: 30_000 }],
    });
    const run = await runForBytes(["-o", "-", server.url("/flags/noresume.bin")]);
    assert.equal(run.code, 70, run.err);
    assert.ok(run.out.length < body.length);
    assert.deepEqual(run.out, body.subarray(0, run.out.length), "only the first bytes, once");
    assert.match(run.err, /cannot resume at byte/);
  });

  test("a mistyped option names the closest one and --help", async () => {
    const run = await runCli(["--destinaton", "x", "http://127.0.0.1:1/a"]);
    assert.equal(run.code, 64);
    assert.match(
      run.stderr,
      /unknown option --destinaton \(did you mean --destination\?\); see resilient-sync --help/,
    );
    const prefix = await runCli(["--checksum-algo", "sha1", "http://127.0.0.1:1/a"]);
    assert.match(prefix.stderr, /did you mean --checksum-algorithm\?/);
    const far = await runCli(["--frobnicate"]);
    assert.doesNotMatch(far.stderr, /did you mean/);
  });

  test("the Python sibling's --retries N is N+1 attempts; with --max-retries it is refused", async (t) => {
    const dir = await tempDir(t);
    const failing = Array.from({ length: 5 }, () => ({ kind: "status" as const, status: 503 }));
    server.route("/flags/r0.bin", { body: bytes(10, 1), script: [...failing] });
    const none = await runCli(
      ["--retries", "0", "-o", join(dir, "r0"), server.url("/flags/r0.bin")],
      { env: { REPO_ROOT: join(dir, "none") } },
    );
    assert.equal(none.code, 70, none.stderr);
    assert.equal(server.requestsFor("/flags/r0.bin").length, 1);
    server.route("/flags/r2.bin", { body: bytes(10, 1), script: [...failing] });
    const two = await runCli(
      ["--retries", "2", "-o", join(dir, "r2"), server.url("/flags/r2.bin")],
      { env: { REPO_ROOT: join(dir, "two") } },
    );
    assert.equal(two.code, 70, two.stderr);
    assert.equal(server.requestsFor("/flags/r2.bin").length, 3);
    const both = await runCli([
      "--retries",
      "2",
      "--max-retries",
      "3",
      server.url("/flags/r2.bin"),
    ]);
    assert.equal(both.code, 64);
    assert.match(both.stderr, /--retries N is --max-retries N\+1/);
  });

  test("--backoff-factor multiplies the logged backoff; --script-name names the logs", async (t) => {
    const dir = await tempDir(t);
    const delays: number[] = [];
    for (const factor of ["1", "4"]) {
      const path = `/flags/backoff${factor}.bin`;
      server.route(path, { body: bytes(10, 1), script: [{ kind: "status", status: 503 }] });
      const run = await runCli(
        [
          "--backoff-factor",
          factor,
          "--script-name",
          "fetch_data.py",
          "-o",
          join(dir, `b${factor}`),
          server.url(path),
        ],
        { env: { REPO_ROOT: join(dir, factor) } },
      );
      assert.equal(run.code, 0, run.stderr);
      const sleep = findLog(run, "sleeping before retry");
      assert.ok(sleep, messages(run).join(", "));
      delays.push(Number(sleep.delay_ms));
      assert.ok(run.logs.every((line) => line.script === "fetch_data.py"));
    }
    const [one, four] = delays as [number, number];
    // 1 s plus up to 25 % jitter, scaled by the tests' 0.001: the factor shows in the ratio.
    assert.ok(four / one > 4 / 1.25 - 0.01 && four / one < 4 * 1.25 + 0.01, `${one} → ${four}`);
  });

  test("--script-name names the usage error's line too, whatever else is wrong", async () => {
    for (const args of [
      ["--script-name", "nightly", "--timeout", "abc", "http://127.0.0.1:1/a"],
      ["--timeout", "abc", "--script-name=nightly", "http://127.0.0.1:1/a"],
    ]) {
      const run = await runCli(args);
      assert.equal(run.code, 64);
      assert.equal(findLog(run, "invalid argument")?.script, "nightly");
    }
  });

  test("--json --json-format legacy: the Python sibling's list", async (t) => {
    const dir = await tempDir(t);
    server.route("/flags/l1.bin", { body: bytes(10, 1) });
    server.route("/flags/l2.bin", {
      body: bytes(10, 2),
      script: [{ kind: "status", status: 404 }],
    });
    const run = await runCli(
      [
        "--json",
        "--json-format",
        "legacy",
        "--artifact-root",
        dir,
        server.url("/flags/l1.bin"),
        server.url("/flags/l2.bin"),
      ],
      { env: { REPO_ROOT: dir } },
    );
    assert.equal(run.code, 1, run.stderr);
    const list = JSON.parse(run.stdout) as Record<string, unknown>[];
    assert.deepEqual(
      list.map((item) => [item.source, item.status]),
      [
        [server.url("/flags/l1.bin"), "ok"],
        [server.url("/flags/l2.bin"), "failed"],
      ],
    );
    assert.equal(list[0]?.checksum, sha256(bytes(10, 1)));
    assert.equal(list[0]?.destination, join(dir, "l1.bin"));
    const alone = await runCli(["--json-format", "legacy", server.url("/flags/l1.bin")]);
    assert.equal(alone.code, 64);
  });
});

describe("--checksum names a local source however it is spelled", () => {
  test("a file:// URL claim for a source given as a path, and a path claim for a file:// source", async (t) => {
    const dir = await tempDir(t);
    const { writeFile } = await import("node:fs/promises");
    const { pathToFileURL } = await import("node:url");
    const source = join(dir, "in.csv");
    const body = Buffer.from("a,b\n1,2\n");
    await writeFile(source, body);
    const good = sha256(body);
    const bad = "0".repeat(64);
    const asUrl = pathToFileURL(source).href;
    for (const [given, claimed] of [
      [source, asUrl],
      [asUrl, source],
    ] as const) {
      const wrong = await runCli(
        [given, "--artifact-root", join(dir, "wrong"), "--checksum", `${claimed}=${bad}`, "--json"],
        { env: { REPO_ROOT: dir } },
      );
      assert.equal(wrong.code, 65, `${given} / ${claimed}: ${wrong.stderr.slice(0, 400)}`);
      assert.equal(JSON.parse(wrong.stdout).results[0].error.code, "checksum_mismatch");
      const right = await runCli(
        [
          given,
          "--artifact-root",
          join(dir, "right"),
          "--checksum",
          `${claimed}=${good}`,
          "--force",
        ],
        { env: { REPO_ROOT: dir } },
      );
      assert.equal(right.code, 0, right.stderr.slice(0, 400));
    }
  });
});
