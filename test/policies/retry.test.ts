import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { findLog, intoArtifactRoot, type LogLine, runCli, singlePair } from "../helpers/cli.js";
import { bytes, sha256, TestServer, useTestServer } from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

const server = useTestServer();

const args = (dir: string, path: string, ...extra: string[]) =>
  singlePair(server.url(path), dir, "out/data.bin", ...extra);

const logsNamed = (logs: LogLine[], message: string) =>
  logs.filter((line) => line.message === message);

describe("retries", () => {
  test("5xx twice, then success: three requests, attempts and delays logged", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(100_000, 11);
    server.route("/flaky.bin", {
      body,
      script: [
        { kind: "status", status: 500 },
        { kind: "status", status: 503 },
      ],
    });
    const result = await runCli(args(dir, "/flaky.bin"));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(server.requestsFor("/flaky.bin").length, 3);
    assert.deepEqual(
      logsNamed(result.logs, "attempting download").map((l) => l.attempt),
      [1, 2, 3],
    );
    const failures = logsNamed(result.logs, "download failed");
    assert.deepEqual(
      failures.map((l) => l.status),
      [500, 503],
      "each failure names its real cause",
    );
    const sleeps = logsNamed(result.logs, "sleeping before retry").map((l) => l.delay_ms as number);
    // Backoff 1 s then 2 s (plus ≤ 25 % jitter), scaled by RESILIENT_SYNC_DELAY_SCALE=0.001.
    assert.equal(sleeps.length, 2);
    assert.ok(
      sleeps[0] !== undefined && sleeps[0] >= 1 && sleeps[0] <= 2,
      `first delay ${sleeps[0]}`,
    );
    assert.ok(
      sleeps[1] !== undefined && sleeps[1] >= 2 && sleeps[1] <= 3,
      `second delay ${sleeps[1]}`,
    );
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
  });

  test("gives up after --max-retries attempts and logs exhausted retries", async (t) => {
    const dir = await tempDir(t);
    server.route("/down.bin", {
      body: bytes(10),
      script: Array.from({ length: 10 }, () => ({ kind: "status" as const, status: 502 })),
    });
    const result = await runCli(args(dir, "/down.bin", "--max-retries", "3"));
    assert.equal(result.code, 70);
    assert.equal(server.requestsFor("/down.bin").length, 3);
    const exhausted = findLog(result, "exhausted retries");
    assert.equal(exhausted?.attempts, 3);
    assert.equal(exhausted?.level, "error");
    assert.deepEqual(await listFiles(join(dir, "out")), []);
  });

  test("a 502 on one URL of an origin that answers is counted like any 5xx, not waited out as an outage", async (t) => {
    const dir = await tempDir(t);
    server.route("/fine.bin", { body: bytes(100, 77) });
    server.route("/broken.bin", {
      body: bytes(10),
      script: Array.from({ length: 500 }, () => ({ kind: "status" as const, status: 502 })),
    });
    const result = await runCli(
      intoArtifactRoot(
        [server.url("/fine.bin"), server.url("/broken.bin")],
        dir,
        ...["--max-workers", "1", "--max-retries", "3", "--retry-max-time", "5"],
      ),
    );
    assert.equal(result.code, 1, "one synced, one failed");
    assert.equal(server.requestsFor("/fine.bin").length, 1);
    assert.equal(server.requestsFor("/broken.bin").length, 3, "--max-retries, not the time budget");
  });

  for (const status of [408, 425, 429]) {
    test(`HTTP ${status} is retried`, async (t) => {
      const dir = await tempDir(t);
      const path = `/transient-${status}.bin`;
      server.route(path, { body: bytes(500, status), script: [{ kind: "status", status }] });
      const result = await runCli(args(dir, path));
      assert.equal(result.code, 0, result.stderr);
      assert.equal(server.requestsFor(path).length, 2);
    });
  }

  test("429 with Retry-After in seconds is honoured", async (t) => {
    const dir = await tempDir(t);
    server.route("/busy.bin", {
      body: bytes(500, 12),
      script: [{ kind: "status", status: 429, headers: { "retry-after": "7" } }],
    });
    const result = await runCli(args(dir, "/busy.bin"));
    assert.equal(result.code, 0, result.stderr);
    const sleep = findLog(result, "sleeping before retry");
    assert.equal(sleep?.retry_after_ms, 7000);
    assert.equal(sleep?.delay_ms, 7, "7 s scaled by 0.001");
  });

  test("503 with Retry-After as an HTTP date is honoured", async (t) => {
    const dir = await tempDir(t);
    const when = new Date(Date.now() + 20_000).toUTCString();
    server.route("/later.bin", {
      body: bytes(500, 13),
      script: [{ kind: "status", status: 503, headers: { "retry-after": when } }],
    });
    const result = await runCli(args(dir, "/later.bin"));
    assert.equal(result.code, 0, result.stderr);
    const retryAfter = findLog(result, "sleeping before retry")?.retry_after_ms as number;
    assert.ok(retryAfter > 15_000 && retryAfter <= 20_000, `retry_after_ms ${retryAfter}`);
  });

  test("a huge Retry-After is capped", async (t) => {
    const dir = await tempDir(t);
    server.route("/capped.bin", {
      body: bytes(500, 14),
      script: [{ kind: "status", status: 503, headers: { "retry-after": "86400" } }],
    });
    const result = await runCli(args(dir, "/capped.bin"));
    assert.equal(result.code, 0);
    assert.equal(findLog(result, "sleeping before retry")?.retry_after_ms, 60_000);
  });

  test("a connection reset mid-body is retried and the result is exact", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(2_000_000, 15);
    server.route("/reset.bin", { body, script: [{ kind: "reset", afterBytes: 700_000 }] });
    const result = await runCli(args(dir, "/reset.bin"));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(findLog(result, "download failed")?.error_code, "network");
    // The reason says how much arrived, not only the socket's error code.
    assert.match(
      String(findLog(result, "download failed")?.reason),
      /^short body: received \d+ of 2000000 bytes \(/,
    );
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
  });

  test("a failed transfer from a server without validators leaves no part (it could never be resumed)", async (t) => {
    const dir = await tempDir(t);
    server.route("/novalidator-reset.bin", {
      body: bytes(2_000_000, 16),
      etag: false,
      lastModified: false,
      script: Array.from({ length: 10 }, () => ({ kind: "reset" as const, afterBytes: 500_000 })),
    });
    const result = await runCli(args(dir, "/novalidator-reset.bin", "--max-retries", "2"));
    assert.equal(result.code, 70, result.stderr);
    assert.deepEqual(await listFiles(join(dir, "out")), [], "no part left");
  });

  test("attempts that made progress do not use up the budget: eight cuts, each resumed, with --max-retries 3", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(2_000_000, 17);
    server.route("/flaky-link.bin", {
      body,
      script: Array.from({ length: 8 }, () => ({ kind: "reset" as const, afterBytes: 200_000 })),
    });
    const result = await runCli(args(dir, "/flaky-link.bin", "--max-retries", "3"));
    assert.equal(result.code, 0, result.stderr.slice(0, 2000));
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
    const asked = server.requestsFor("/flaky-link.bin");
    assert.equal(asked.length, 9, "eight cut attempts and the last one");
    assert.ok(
      asked.slice(1).every((r) => /^bytes=\d+-$/.test(String(r.headers.range))),
      "each resumed where the last stopped",
    );
  });

  test("attempts that made no progress still use up the budget", async (t) => {
    const dir = await tempDir(t);
    server.route("/no-progress.bin", {
      body: bytes(100_000, 18),
      script: Array.from({ length: 8 }, () => ({ kind: "reset" as const, afterBytes: 0 })),
    });
    const result = await runCli(args(dir, "/no-progress.bin", "--max-retries", "3"));
    assert.equal(result.code, 70);
    assert.equal(server.requestsFor("/no-progress.bin").length, 3);
  });

  test("resumes the next attempt with Range and If-Range after a reset", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(1_500_000, 19);
    server.route("/resume.bin", { body, script: [{ kind: "reset", afterBytes: 1_000_000 }] });
    const result = await runCli(args(dir, "/resume.bin"));
    assert.equal(result.code, 0, result.stderr);
    const [, second] = server.requestsFor("/resume.bin");
    assert.match(String(second?.headers.range), /^bytes=\d+-$/);
    assert.equal(second?.status, 206);
    assert.ok(
      server.bytesSentFor("/resume.bin") < body.length + 100_000,
      "the rest, not the whole file again",
    );
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
  });

  test("a server that ignores Range restarts the file from zero, never appends", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(1_500_000, 20);
    server.route("/norange.bin", {
      body,
      ignoreRange: true,
      script: [{ kind: "reset", afterBytes: 1_000_000 }],
    });
    const result = await runCli(args(dir, "/norange.bin"));
    assert.equal(result.code, 0, result.stderr);
    const [, second] = server.requestsFor("/norange.bin");
    assert.ok(second?.headers.range, "a range was asked for");
    assert.equal(second?.status, 200);
    assert.equal(findLog(result, "download successful")?.resumed_from, 0);
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
  });

  test("a short body (fewer bytes than Content-Length) is an error, never a success", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(100_000, 16);
    server.route("/short.bin", {
      body,
      script: [{ kind: "short", bytes: 60_000 }],
    });
    const result = await runCli(
      args(dir, "/short.bin", "--max-retries", "1", "--circuit-threshold", "9"),
    );
    assert.equal(result.code, 70, result.stdout + result.stderr);
    assert.equal(server.requestsFor("/short.bin").length, 1);
    assert.deepEqual(
      await listFiles(join(dir, "out")).then((f) => f.filter((n) => n === "data.bin")),
      [],
    );
    // What did arrive is kept and resumed: the next run completes the file, exactly.
    const next = await runCli(args(dir, "/short.bin"));
    assert.equal(next.code, 0, next.stderr);
    assert.ok(server.bytesSentFor("/short.bin") <= body.length + 60_000);
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
  });

  test("a stalled body is aborted after --timeout and retried", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(300_000, 17);
    server.route("/stall.bin", { body, script: [{ kind: "stall", afterBytes: 100_000 }] });
    const result = await runCli(args(dir, "/stall.bin", "--timeout", "0.5"));
    assert.equal(result.code, 0, result.stderr);
    const failure = findLog(result, "download failed");
    assert.equal(failure?.error_code, "timeout");
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
  });

  test("--timeout never cuts a transfer that keeps progressing", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(40_000, 18);
    // 20 chunks 100 ms apart: 2 s in all, twice the timeout, never a gap near it.
    server.route("/drip.bin", {
      body,
      script: [{ kind: "drip", chunkBytes: 2000, intervalMs: 100 }],
    });
    const result = await runCli(args(dir, "/drip.bin", "--timeout", "1"));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(server.requestsFor("/drip.bin").length, 1);
    assert.equal(findLog(result, "download failed"), undefined);
  });

  test("connection refused is a network error, retried, then exit 70", async (t) => {
    const dir = await tempDir(t);
    const dead = await TestServer.start();
    const url = dead.url("/gone.bin");
    await dead.close();
    const result = await runCli([
      "--source-url",
      url,
      "--destination",
      join(dir, "out", "data.bin"),
      "--lock-dir",
      join(dir, "locks"),
      "--max-retries",
      "2",
    ]);
    assert.equal(result.code, 70);
    assert.equal(findLog(result, "download failed")?.error_code, "network");
    assert.match(String(findLog(result, "download failed")?.reason), /ECONNREFUSED/);
  });
});
