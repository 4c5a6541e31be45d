/**
 * The fleet's Redis restarted in the middle of a batch (shut down and started again on the same
 * data, as a maintenance restart would): no destination is corrupt or partial, the workers say
 * what happened, and the next batch completes.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fleetOn, untilLogged } from "../helpers/fleet.js";
import { REDIS_SKIP, startRedis } from "../helpers/redis.js";
import { bytes, useTestServer } from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

const server = useTestServer();

interface Doc {
  summary: { synced: number; unchanged: number; failed: number };
  results: { source: string; destination: string; status: string }[];
}

describe("Redis restarted mid-batch", { skip: REDIS_SKIP }, () => {
  test("no corruption, clear errors, and the next batch completes", {
    timeout: 90_000,
  }, async (t) => {
    const dir = await tempDir(t);
    const redis = await startRedis({ persist: true });
    t.after(() => redis.stop());
    const fleet = fleetOn(redis.url());
    t.after(() => fleet.stopAll());
    const bodies = new Map<string, Buffer>();
    for (let index = 0; index < 30; index += 1) {
      const path = `/restart/f${index}.bin`;
      const body = bytes(64 * 1024, index + 1);
      bodies.set(server.url(path), body);
      server.route(path, { body, pace: { chunkBytes: 8 * 1024, intervalMs: 30 } });
    }
    const sources = [...bodies.keys()];
    const out = ["--artifact-root", join(dir, "out")];
    const workers = await Promise.all([1, 2].map(() => fleet.startWorker("--concurrency", "4")));
    const first = fleet.enqueue(...sources, ...out, "--wait", "--json");
    await untilLogged(workers, (line) => line.message === "updated destination", 4);
    await redis.restart();
    const run = await first;
    // Some pairs may have failed while Redis was away; none is reported synced without being so.
    assert.ok([0, 1, 70].includes(run.code ?? -1), `exit ${run.code}: ${run.stderr}`);
    const doc = JSON.parse(run.stdout) as Doc;
    for (const result of doc.results.filter((r) => r.status === "synced")) {
      assert.deepEqual(await readFile(result.destination), bodies.get(result.source));
    }
    // Whatever is at a destination is whole: a commit is all or nothing.
    for (const result of doc.results) {
      const content = await readFile(result.destination).catch(() => undefined);
      if (content) assert.deepEqual(content, bodies.get(result.source), result.destination);
    }
    const said = workers.flatMap((worker) => worker.logs()).map((line) => line.message);
    assert.ok(
      said.includes("state store unreachable") || said.includes("queue unreachable"),
      "the workers said Redis went away",
    );

    const next = await fleet.enqueue(...sources, ...out, "--wait", "--json");
    assert.equal(next.code, 0, next.stderr);
    const after = JSON.parse(next.stdout) as Doc;
    assert.equal(after.summary.failed, 0);
    for (const result of after.results) {
      assert.deepEqual(await readFile(result.destination), bodies.get(result.source));
    }
    assert.deepEqual(
      (await listFiles(join(dir, "out"))).filter((name) => name.includes(".part")),
      [],
      "no part file left",
    );

    // Redis gone for good: a SIGTERM still stops every worker, within its grace, with 143.
    await redis.kill();
    for (const worker of workers) worker.child.kill("SIGTERM");
    const stopped = await Promise.all(workers.map((worker) => worker.done));
    assert.deepEqual(
      stopped.map((result) => result.code),
      [143, 143],
    );
  });
});
