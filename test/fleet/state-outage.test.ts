/**
 * The workers' state store (`--state`, its own Redis here) restarted in the middle of a batch,
 * the queue's Redis up throughout: the jobs it interrupted wait for it and run again, so the
 * batch completes with nothing failed, every destination whole.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { fleetOn, untilLogged } from "../helpers/fleet.js";
import { REDIS_SKIP, startRedis } from "../helpers/redis.js";
import { bytes, useTestServer } from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

const server = useTestServer();
/** How long the store stays away once a job has met the outage: reconnects come every ≤ 1 s. */
const OUTAGE_MS = 4_000;

interface Doc {
  summary: { synced: number; failed: number };
  results: { source: string; destination: string; status: string; error: unknown }[];
}

describe("the state store's Redis restarted mid-batch", { skip: REDIS_SKIP }, () => {
  test("the jobs it interrupted wait for it and complete; nothing is reported failed", {
    timeout: 120_000,
  }, async (t) => {
    const dir = await tempDir(t);
    const queueRedis = await startRedis();
    t.after(() => queueRedis.stop());
    const stateRedis = await startRedis({ persist: true });
    t.after(() => stateRedis.stop());
    const fleet = fleetOn(queueRedis.url());
    t.after(() => fleet.stopAll());
    const bodies = new Map<string, Buffer>();
    for (let index = 0; index < 24; index += 1) {
      const path = `/state-outage/f${index}.bin`;
      const body = bytes(64 * 1024, index + 7);
      bodies.set(server.url(path), body);
      server.route(path, { body, pace: { chunkBytes: 8 * 1024, intervalMs: 40 } });
    }
    const state = ["--state", stateRedis.url()];
    const worker = await fleet.startWorker("--concurrency", "4", ...state);
    const out = join(dir, "out");
    const run = fleet.enqueue(
      ...bodies.keys(),
      "--artifact-root",
      out,
      ...state,
      "--wait",
      "--json",
    );
    await untilLogged([worker], (line) => line.message === "updated destination", 4);
    await stateRedis.restart(async () => {
      // Down until a job has met the outage (failed for it, before; waits for the store, now),
      // then for OUTAGE_MS more: several of the connection's reconnects fail meanwhile.
      await untilLogged(
        [worker],
        (line) =>
          line.message === "job waiting for the state store" ||
          (line.message === "synchronization failed" && /state store/.test(String(line.reason))),
        1,
        30_000,
      );
      await delay(OUTAGE_MS);
    });
    const result = await run;
    const doc = JSON.parse(result.stdout) as Doc;
    assert.deepEqual(
      doc.results.filter((r) => r.status === "failed").map((r) => r.error),
      [],
      "no job failed",
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(doc.summary.synced, bodies.size);
    for (const [source, body] of bodies) {
      const entry = doc.results.find((r) => r.source === source);
      assert.ok(entry, source);
      assert.deepEqual(await readFile(entry.destination), body, entry.destination);
    }
    assert.deepEqual(
      (await listFiles(out)).filter((name) => name.includes(".part")),
      [],
      "no part file left",
    );
    const said = worker.logs().map((line) => line.message);
    assert.ok(said.includes("job waiting for the state store"), "the wait is said");
    assert.ok(said.includes("state store reachable again"), "and its end");
  });
});
