/**
 * A fleet over a real network: Redis and the origin in one namespace (the "hub"), two workers
 * each in a namespace of its own, joined to the hub by veth pairs. One worker is cut off in the
 * middle of its jobs (every packet on its link dropped, as a failed switch port would): the other
 * takes its jobs over once their queue locks and pair leases lapse, every file arrives whole and
 * is committed once, and the cut-off worker commits nothing after the cut.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { LogLine } from "../helpers/cli.js";
import { fleetOn, untilLogged } from "../helpers/fleet.js";
import { Netns, netnsUnavailable, Reporter } from "../helpers/netns.js";
import { REDIS_SKIP, startRedis } from "../helpers/redis.js";
import { bytes } from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

const ORIGIN = fileURLToPath(new URL("../helpers/paced-origin.js", import.meta.url));
const HUB = "10.77.0.1";
const SIZE = 256 * 1024;
const JOBS = 12;
const skip = REDIS_SKIP || netnsUnavailable() || false;

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");
const committed = (line: LogLine) => line.message === "updated destination";

interface Doc {
  summary: { synced: number; failed: number };
  results: { destination: string; status: string }[];
}

describe("a worker cut off from the fleet's network", { skip }, () => {
  test("its jobs are taken over, each file whole and committed once", async (t) => {
    const dir = await tempDir(t);
    const hub = new Netns();
    const near = new Netns();
    const far = new Netns();
    t.after(() => {
      for (const ns of [near, far, hub]) ns.close();
    });
    hub.holdAddress(HUB);
    near.linkTo(hub, 1, HUB);
    far.linkTo(hub, 2, HUB);

    const redis = await startRedis({ wrapper: hub.wrapper, bind: "0.0.0.0" });
    t.after(() => redis.stop());
    // 256 KiB at 256 KiB/s: each job is in flight for about a second.
    const origin = new Reporter([
      ...hub.wrapper,
      process.execPath,
      ORIGIN,
      String(SIZE),
      String(SIZE),
      "0.0.0.0",
    ]);
    t.after(() => origin.stop());
    const port = Number((await origin.waitFor((line) => "listening" in line)).listening);

    const fleet = fleetOn(`redis://${HUB}:${redis.port}/0`);
    t.after(() => fleet.stopAll());
    // A silent worker's jobs go to another after 2 s; the pair leases lapse after 5 s.
    const workerArgs = ["--concurrency", "2", "--stalled-after", "2", "--timeout", "60"];
    const nearWorker = await fleet.startWorkerWith({ wrapper: near.wrapper }, ...workerArgs);
    const farWorker = await fleet.startWorkerWith({ wrapper: far.wrapper }, ...workerArgs);

    const sources = Array.from(
      { length: JOBS },
      (_, index) => `http://${HUB}:${port}/f${index}.bin`,
    );
    const batch = fleet.enqueueWith(
      { wrapper: hub.wrapper },
      ...sources,
      "--artifact-root",
      join(dir, "out"),
      "--wait",
      "--json",
    );
    // The far worker is cut off while it has jobs in flight.
    const started = (line: LogLine) => line.message === "attempting download";
    await untilLogged([farWorker], started, 1);
    far.isolate();
    const cutAt = Date.now();
    const farCommittedBefore = farWorker.logs().filter(committed).length;

    const run = await batch;
    assert.equal(run.code, 0, run.stderr.slice(-3000));
    const doc = JSON.parse(run.stdout) as Doc;
    assert.equal(doc.summary.synced, JOBS);
    const expected = sha256(bytes(SIZE, 7));
    for (const result of doc.results) {
      assert.equal(sha256(await readFile(result.destination)), expected, result.destination);
    }
    assert.deepEqual(
      (await listFiles(join(dir, "out"))).filter((name) => name.includes(".part")),
      [],
      "no part file left",
    );

    // The near worker took over: it committed what the far one could not.
    const nearCommits = nearWorker.logs().filter(committed);
    const farCommits = farWorker.logs().filter(committed);
    assert.equal(farCommits.length, farCommittedBefore, "nothing committed after the cut");
    const destinations = [...nearCommits, ...farCommits].map((line) => line.destination);
    assert.equal(new Set(destinations).size, JOBS, "every destination committed");
    assert.equal(destinations.length, JOBS, "none committed twice");
    assert.ok(
      nearWorker.logs().some((line) => Date.parse(String(line.ts)) > cutAt && committed(line)),
      "the near worker committed after the cut",
    );

    // Cut off, the far worker can still be stopped: it gives up handing back after its grace.
    farWorker.child.kill("SIGTERM");
    assert.equal((await farWorker.done).code, 143);
  });
});
