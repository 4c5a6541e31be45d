/**
 * The circuit breaker across a fleet: an origin that failed for one worker is refused by every
 * other worker without a request, and once its circuit's time is up exactly one request probes
 * it for the whole fleet — however many workers and jobs ask at once.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { LogLine } from "../helpers/cli.js";
import { fleetOn, untilLogged } from "../helpers/fleet.js";
import { REDIS_SKIP, useRedis } from "../helpers/redis.js";
import { bytes, type Step, useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const server = useTestServer();
const redis = useRedis();

interface Doc {
  summary: { synced: number; failed: number };
  results: { source: string; status: string; error: { code: string } | null }[];
}

/** What a worker logs for a job its circuit refused without asking the origin. */
const refusedByCircuit = (line: LogLine) => line.message === "circuit breaker open";

describe("the circuit breaker, fleet-wide", { skip: REDIS_SKIP }, () => {
  test("one worker's failures open it for all; after its time, one probe for the whole fleet", async (t) => {
    const dir = await tempDir(t);
    const fleet = fleetOn(redis.server.url());
    t.after(() => fleet.stopAll());
    // Long enough for a loaded machine to stop one worker, start two and plan a batch while the
    // circuit is still open (2 s was not, once in a full suite run).
    const TTL_S = 6;
    const circuit = ["--circuit-threshold", "1", "--circuit-ttl", String(TTL_S)];
    const down: Step[] = Array.from({ length: 10 }, () => ({ kind: "status", status: 500 }));
    server.route("/flaky/first.bin", { body: bytes(1024, 1), script: down });
    const out = ["--artifact-root", join(dir, "out"), "--max-retries", "1"];

    // One worker meets the failing origin: the circuit opens.
    const first = await fleet.startWorker("--concurrency", "1", ...circuit);
    const failed = await fleet.enqueue(server.url("/flaky/first.bin"), ...out, "--wait");
    assert.equal(failed.code, 70, failed.stderr);
    const opened = await untilLogged(
      [first],
      (line) => line.message === "circuit breaker opened",
      1,
    );
    const openedAt = Date.parse(String(opened[0]?.ts));

    // Other workers, which never asked the origin, refuse it without a request.
    first.child.kill("SIGTERM");
    await first.done;
    const others = await Promise.all(
      [1, 2].map(() => fleet.startWorker("--concurrency", "4", ...circuit)),
    );
    const paths = Array.from({ length: 8 }, (_, index) => `/flaky/f${index}.bin`);
    /** One batch of every path, followed to its end, with its results document. */
    const batchOfAll = () =>
      fleet.enqueue(...paths.map((path) => server.url(path)), ...out, "--wait", "--json");
    for (const [index, path] of paths.entries()) {
      // Held until released: a probe stays in flight while the others ask.
      server.route(path, { body: bytes(1024, index + 2), script: [{ kind: "hold-answer" }] });
    }
    const refused = await batchOfAll();
    assert.equal(refused.code, 75, refused.stderr);
    const doc = JSON.parse(refused.stdout) as Doc;
    assert.deepEqual(
      doc.results.map((result) => result.error?.code),
      paths.map(() => "circuit_open"),
    );
    for (const path of paths)
      assert.equal(server.requestsFor(path).length, 0, `${path} never asked`);
    const refusers = new Set(
      others.flatMap((worker) =>
        worker
          .logs()
          .filter(refusedByCircuit)
          .map((line) => line.worker_id),
      ),
    );
    assert.equal(refusers.size, 2, "both workers refused jobs without asking");

    // Past the circuit's time (TTL_S from its opening), two fresh workers ask at once. Within one
    // process an origin not yet proven gets one transfer at a time, so one job per worker keeps
    // the other worker asking the shared circuit while the probe is held: one request reaches
    // the origin, and the other worker's job waits for the probe's verdict (it failed
    // `circuit_open`, and so did the batch's every job but the probe).
    await Promise.all(
      others.map(async (worker) => {
        worker.child.kill("SIGTERM");
        await worker.done;
      }),
    );
    const probers = await Promise.all(
      [1, 2].map(() => fleet.startWorker("--concurrency", "1", ...circuit)),
    );
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, openedAt + TTL_S * 1000 + 100 - Date.now())),
    );
    const probing = batchOfAll();
    await untilLogged(probers, (line) => line.message === "waiting for probe", 1);
    await server.waitFor(() => paths.some((path) => server.requestsFor(path).length > 0));
    const asked = paths.filter((path) => server.requestsFor(path).length > 0);
    assert.equal(asked.length, 1, `one probe for the fleet, got ${asked.join(", ")}`);
    // The others are answered at once when they come; the probe's answer is let go.
    for (const [index, path] of paths.entries())
      if (path !== asked[0]) server.route(path, { body: bytes(1024, index + 2) });
    server.release();
    const probed = await probing;
    assert.equal(probed.code, 0, probed.stderr);
    const after = JSON.parse(probed.stdout) as Doc;
    assert.equal(after.summary.synced, 8);
    const total = paths.reduce((sum, path) => sum + server.requestsFor(path).length, 0);
    assert.equal(total, 8, "each file asked once, after the probe's verdict");
    assert.equal(
      probers.flatMap((worker) => worker.logs().filter(refusedByCircuit)).length,
      0,
      "no job refused",
    );

    // The probe succeeded: the circuit is closed for everyone, and the origin answers at once.
    for (const [index, path] of paths.entries())
      server.route(path, { body: bytes(1024, index + 2) });
    const healed = await batchOfAll();
    assert.equal(healed.code, 0, healed.stderr);
  });
});
