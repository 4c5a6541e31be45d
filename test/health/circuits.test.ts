import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { findLog, runCli } from "../helpers/cli.js";
import { bytes, sha256, useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const server = useTestServer();

const failing = (n: number) =>
  Array.from({ length: n }, () => ({ kind: "status" as const, status: 500 }));

describe("circuit breaker across runs", () => {
  test("a 500 loop opens the circuit; the next run sends no request and exits 75", async (t) => {
    const dir = await tempDir(t);
    server.route("/dead.bin", { body: bytes(100, 21), script: failing(100) });
    const common = [
      "--destination",
      join(dir, "data.bin"),
      "--lock-dir",
      join(dir, "locks"),
      "--max-retries",
      "3",
    ];
    const first = await runCli(["--source-url", server.url("/dead.bin"), ...common]);
    assert.equal(first.code, 70);
    assert.equal(server.requestsFor("/dead.bin").length, 3);
    assert.ok(findLog(first, "circuit breaker opened"));

    // Another path on the same origin is refused too: the circuit is per origin.
    const second = await runCli(["--source-url", server.url("/other.bin"), ...common]);
    assert.equal(second.code, 75);
    const open = findLog(second, "circuit breaker open");
    assert.equal(open?.level, "error");
    assert.ok(typeof open?.seconds_until_retry === "number" && open.seconds_until_retry > 250);
    assert.equal(server.requestsFor("/other.bin").length, 0, "no request sent");
    assert.equal(server.requestsFor("/dead.bin").length, 3);
  });

  test("after the TTL one probe goes through; success resets the circuit", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(1000, 22);
    server.route("/recovering.bin", { body, script: failing(2) });
    const common = [
      "--source-url",
      server.url("/recovering.bin"),
      "--destination",
      join(dir, "data.bin"),
      "--lock-dir",
      join(dir, "locks"),
      "--max-retries",
      "2",
      "--circuit-ttl",
      "0.5",
    ];
    const first = await runCli(common);
    assert.equal(first.code, 70);
    const openedAt = Date.now();
    // Wait out the TTL the circuit was opened with: a known span of time, not a guess.
    await delay(Math.max(0, 600 - (Date.now() - openedAt)));
    const probe = await runCli(common);
    assert.equal(probe.code, 0, probe.stderr);
    assert.ok(findLog(probe, "circuit breaker half-open"));
    assert.ok(findLog(probe, "circuit breaker reset"));
    assert.equal(sha256(await readFile(join(dir, "data.bin"))), sha256(body));
    assert.equal(server.requestsFor("/recovering.bin").length, 3);
  });

  test("after the TTL, a batch to the healed origin: its other files wait for the probe, none refused", async (t) => {
    const dir = await tempDir(t);
    server.route("/healing/0.bin", { body: bytes(100, 30), script: failing(1) });
    const paths = Array.from({ length: 10 }, (_, i) => `/healing/${i}.bin`);
    for (const [i, path] of paths.entries())
      if (i > 0) server.route(path, { body: bytes(100, 30 + i) });
    const common = ["--artifact-root", join(dir, "out"), "--lock-dir", join(dir, "locks")];
    const ttl = ["--circuit-ttl", "0.5", "--max-retries", "1"];
    const first = await runCli([server.url(paths[0] as string), ...common, ...ttl]);
    assert.equal(first.code, 70, first.stderr);
    const openedAt = Date.now();
    await delay(Math.max(0, 600 - (Date.now() - openedAt)));
    const batch = await runCli([
      ...paths.map((path) => server.url(path)),
      ...common,
      ...ttl,
      "--max-workers",
      "8",
      "--json",
    ]);
    assert.equal(batch.code, 0, batch.stderr.slice(0, 2000));
    assert.equal(JSON.parse(batch.stdout).summary.synced, 10);
    assert.equal(findLog(batch, "circuit breaker open"), undefined, "no file refused");
    assert.ok(findLog(batch, "circuit breaker reset"));
  });

  test("a failed probe re-opens the circuit after a single request", async (t) => {
    const dir = await tempDir(t);
    server.route("/still-dead.bin", { body: bytes(10, 23), script: failing(100) });
    const common = [
      "--source-url",
      server.url("/still-dead.bin"),
      "--destination",
      join(dir, "data.bin"),
      "--lock-dir",
      join(dir, "locks"),
      "--max-retries",
      "2",
      "--circuit-ttl",
      "0.3",
    ];
    assert.equal((await runCli(common)).code, 70);
    const openedAt = Date.now();
    await delay(Math.max(0, 400 - (Date.now() - openedAt)));
    // The failed probe re-opens the circuit for the probing run's TTL: a long one, so that the
    // refusal below cannot race the clock on a slow machine.
    const longTtl = [...common.slice(0, -1), "60"];
    const probe = await runCli(longTtl);
    assert.equal(probe.code, 70);
    assert.equal(server.requestsFor("/still-dead.bin").length, 3, "two attempts, then one probe");
    const after = await runCli(longTtl);
    assert.equal(after.code, 75);
  });

  test("permanent errors (404) do not open the circuit", async (t) => {
    const dir = await tempDir(t);
    const common = ["--destination", join(dir, "data.bin"), "--lock-dir", join(dir, "locks")];
    assert.equal((await runCli(["--source-url", server.url("/nope.bin"), ...common])).code, 70);
    server.route("/fine.bin", { body: bytes(10, 24) });
    assert.equal((await runCli(["--source-url", server.url("/fine.bin"), ...common])).code, 0);
  });

  test("a checksum mismatch does not open the circuit: the origin answered", async (t) => {
    const dir = await tempDir(t);
    const common = [
      "--lock-dir",
      join(dir, "locks"),
      "--circuit-threshold",
      "1",
      "--max-retries",
      "1",
    ];
    server.route("/mismatch.bin", { body: bytes(10, 26) });
    const wrong = await runCli([
      "--source-url",
      server.url("/mismatch.bin"),
      "--destination",
      join(dir, "a.bin"),
      "--checksum",
      "e".repeat(64),
      ...common,
    ]);
    assert.equal(wrong.code, 65, wrong.stderr);
    server.route("/after.bin", { body: bytes(10, 27) });
    const next = await runCli([
      "--source-url",
      server.url("/after.bin"),
      "--destination",
      join(dir, "b.bin"),
      ...common,
    ]);
    assert.equal(next.code, 0, next.stderr);
    assert.equal(findLog(next, "circuit breaker open"), undefined);
  });

  test("--circuit-threshold 2 needs two failed transfers", async (t) => {
    const dir = await tempDir(t);
    server.route("/twice.bin", { body: bytes(10, 25), script: failing(100) });
    const common = [
      "--source-url",
      server.url("/twice.bin"),
      "--destination",
      join(dir, "data.bin"),
      "--lock-dir",
      join(dir, "locks"),
      "--max-retries",
      "1",
      "--circuit-threshold",
      "2",
    ];
    assert.equal((await runCli(common)).code, 70);
    assert.equal((await runCli(common)).code, 70);
    assert.equal((await runCli(common)).code, 75);
    assert.equal(server.requestsFor("/twice.bin").length, 2);
  });

  test("a probe answered with 404 closes the circuit: the origin is alive", async (t) => {
    const dir = await tempDir(t);
    server.route("/flaps.bin", { body: bytes(10, 26), script: failing(1) });
    server.route("/healthy.bin", { body: bytes(10, 27) });
    const common = [
      "--destination",
      join(dir, "data.bin"),
      "--lock-dir",
      join(dir, "locks"),
      "--max-retries",
      "1",
      "--circuit-ttl",
      "0.3",
    ];
    assert.equal((await runCli(["--source-url", server.url("/flaps.bin"), ...common])).code, 70);
    const openedAt = Date.now();
    await delay(Math.max(0, 400 - (Date.now() - openedAt)));
    const probe = await runCli(["--source-url", server.url("/no-such.bin"), ...common]);
    assert.equal(probe.code, 70);
    assert.ok(findLog(probe, "circuit breaker reset"));
    const next = await runCli(["--source-url", server.url("/healthy.bin"), ...common]);
    assert.equal(next.code, 0, next.stderr);
  });
});
