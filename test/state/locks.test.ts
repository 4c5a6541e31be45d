import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CliProcess, findLog, runCli, singlePair } from "../helpers/cli.js";
import { bytes, sha256, useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const server = useTestServer();

const args = (dir: string, path: string, ...extra: string[]) =>
  singlePair(server.url(path), dir, "data.bin", ...extra);

describe("one run per pair", () => {
  test("a concurrent second run logs the lock and exits 0 without a request", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(500_000, 31);
    server.route("/busy.bin", { body, script: [{ kind: "hold", afterBytes: 65_536 }] });
    const first = new CliProcess(args(dir, "/busy.bin"));
    await server.waitFor(() => server.bytesSentFor("/busy.bin") >= 65_536);

    const second = await runCli(args(dir, "/busy.bin"));
    assert.equal(second.code, 0, second.stderr);
    assert.ok(findLog(second, "another synchronization is in progress"));
    assert.equal(server.requestsFor("/busy.bin").length, 1, "the second run sent nothing");

    server.release();
    const done = await first.done;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(sha256(await readFile(join(dir, "data.bin"))), sha256(body));
  });

  test("--wait-lock waits for the holder, then finds the destination up to date", async (t) => {
    const dir = await tempDir(t);
    server.route("/wait.bin", {
      body: bytes(300_000, 32),
      script: [{ kind: "hold", afterBytes: 65_536 }],
    });
    const first = new CliProcess(args(dir, "/wait.bin"));
    await server.waitFor(() => server.bytesSentFor("/wait.bin") >= 65_536);

    const second = new CliProcess(args(dir, "/wait.bin", "--wait-lock", "20"));
    await second.waitForLog("waiting for lock");
    server.release();
    const [a, b] = await Promise.all([first.done, second.done]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.ok(findLog(b, "destination already up-to-date"));
    assert.deepEqual(
      server.requestsFor("/wait.bin").map((r) => r.status),
      [200, 304],
    );
  });

  test("a lock left by a SIGKILLed run does not block the next run", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(1_000_000, 33);
    server.route("/killed.bin", { body, script: [{ kind: "hold", afterBytes: 200_000 }] });
    const victim = new CliProcess(args(dir, "/killed.bin"));
    await server.waitFor(() => server.bytesSentFor("/killed.bin") >= 200_000);
    victim.child.kill("SIGKILL");
    assert.equal((await victim.done).signal, "SIGKILL");

    const started = Date.now();
    const next = await runCli(args(dir, "/killed.bin"));
    const blockedMs = Date.now() - started;
    assert.equal(next.code, 0, next.stderr);
    assert.equal(findLog(next, "another synchronization is in progress"), undefined);
    assert.equal(findLog(next, "removed stale lock")?.reason, "holder process is gone");
    assert.ok(blockedMs < 5000, `next run took ${blockedMs} ms`);
    assert.equal(sha256(await readFile(join(dir, "data.bin"))), sha256(body));
  });

  test("two different sources aimed at one destination take turns", async (t) => {
    const dir = await tempDir(t);
    server.route("/one-of-two.bin", {
      body: bytes(300_000, 34),
      script: [{ kind: "hold", afterBytes: 65_536 }],
    });
    server.route("/other-of-two.bin", { body: bytes(300_000, 35) });
    const first = new CliProcess(args(dir, "/one-of-two.bin"));
    await server.waitFor(() => server.bytesSentFor("/one-of-two.bin") >= 65_536);
    const second = await runCli(args(dir, "/other-of-two.bin"));
    assert.equal(second.code, 0);
    assert.ok(findLog(second, "another synchronization is in progress"));
    assert.equal(server.requestsFor("/other-of-two.bin").length, 0);
    server.release();
    assert.equal((await first.done).code, 0);
    assert.equal(sha256(await readFile(join(dir, "data.bin"))), sha256(bytes(300_000, 34)));
  });

  test("a deadline that passes while waiting for a lock fails that source as deadline", async (t) => {
    const dir = await tempDir(t);
    server.route("/held.bin", {
      body: bytes(300_000, 36),
      script: [{ kind: "hold", afterBytes: 65_536 }],
    });
    const first = new CliProcess(args(dir, "/held.bin"));
    await server.waitFor(() => server.bytesSentFor("/held.bin") >= 65_536);
    const waiting = await runCli(
      args(dir, "/held.bin", "--wait-lock", "30", "--deadline", "0.5", "--json"),
    );
    assert.equal(waiting.code, 70, waiting.stderr);
    const report = JSON.parse(waiting.stdout);
    assert.equal(report.results[0].error.code, "deadline");
    assert.equal(findLog(waiting, "internal error"), undefined);
    server.release();
    assert.equal((await first.done).code, 0);
  });
});
