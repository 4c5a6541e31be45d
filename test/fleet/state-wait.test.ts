/**
 * A worker's wait for its state store, on a fake clock: a job that failed because the store could
 * not be asked (or lost its lease with nobody taking it) runs again once the store is back, for
 * up to `STATE_PATIENCE_MS`; any other failure is reported at once; a stop ends the wait.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ResultBuilder, type SourceResult } from "../../src/core/result.js";
import type { JobSpec } from "../../src/core/spec.js";
import { SyncError } from "../../src/errors.js";
import {
  failedForState,
  runWhileStateAway,
  STATE_PATIENCE_MS,
  StateOutage,
} from "../../src/fleet/state-wait.js";
import type { Logger } from "../../src/log/events.js";
import { LeaseLostError, StateUnavailableError } from "../../src/state/store.js";
import { FakeClock } from "../helpers/fake-clock.js";

const spec = {
  source: { display: "http://origin.test/f.bin" },
  destination: "/out/f.bin",
  algorithm: "sha256",
} as unknown as JobSpec;

function harness(
  outcomes: (() => SourceResult)[],
  reachable: (signal: AbortSignal) => Promise<void> = async () => {},
  clock = new FakeClock({ autoAdvance: true }),
  outage = new StateOutage(clock),
) {
  const lines: { message: string; fields: Record<string, unknown> }[] = [];
  let runs = 0;
  const controller = new AbortController();
  const wait = {
    untilReachable: reachable,
    outage,
    clock,
    logger: {
      emit: (_level: string, message: string, fields: Record<string, unknown>) =>
        lines.push({ message, fields }),
    } as unknown as Logger,
    job: { job_id: "7", source: spec.source.display, destination: spec.destination },
    signal: controller.signal,
  };
  // Each round logs its failure as runJob does, through the logger it is given.
  const run = async (logger: Logger) => {
    const outcome = outcomes[Math.min(runs, outcomes.length - 1)] as () => SourceResult;
    runs += 1;
    const result = outcome();
    if (result.status === "failed") {
      logger.emit("error", "synchronization failed", {
        source: result.source,
        destination: result.destination,
        error_code: result.error?.code ?? "write_error",
        reason: result.error?.message ?? "",
      });
    }
    return result;
  };
  return { clock, lines, wait, run, controller, runs: () => runs };
}

const build = () => new ResultBuilder(spec, new FakeClock());
const unreachable = () =>
  build().failed(
    new SyncError("write_error", "state store down", {
      cause: new StateUnavailableError(
        "state store redis://r/0 unreachable (reading m): ECONNREFUSED",
      ),
    }),
  );
const leaseGone = () =>
  build().failed(
    new SyncError("write_error", "the lock was lost", {
      cause: new LeaseLostError("k", "the state store no longer has the lease", false),
    }),
  );
const synced = () => build().result({ status: "synced", checksum: "ab" });
const httpFailure = () => build().failed(new SyncError("http_error", "HTTP 500"));

test("a job failed for the state store runs again once it is back; its wait is said, its rounds' failures are not", async () => {
  const { lines, wait, run, runs } = harness([unreachable, leaseGone, synced]);
  const result = await runWhileStateAway(run, wait);
  assert.equal(result.status, "synced");
  assert.equal(runs(), 3);
  assert.deepEqual(
    lines.map((line) => [line.message, line.fields.round, line.fields.job_id]),
    [
      ["job waiting for the state store", 1, "7"],
      ["job waiting for the state store", 2, "7"],
    ],
  );
});

test("any other failure, and a lease another run took over, are reported at once", async () => {
  const { wait, run, runs } = harness([httpFailure, synced]);
  assert.equal((await runWhileStateAway(run, wait)).status, "failed");
  assert.equal(runs(), 1);
  const takenOver = build().failed(
    new SyncError("write_error", "lost", { cause: new LeaseLostError("k", "taken", true) }),
  );
  assert.equal(failedForState(takenOver), false);
  assert.equal(failedForState(synced()), false);
  assert.equal(failedForState(unreachable()), true);
});

test("a store that never comes back: the job is reported failed after the patience, not before, and the worker's next job at once", async () => {
  const { clock, wait, run, runs, lines } = harness([unreachable]);
  const result = await runWhileStateAway(run, wait);
  assert.equal(result.status, "failed");
  assert.ok(clock.monotonic() >= STATE_PATIENCE_MS, `gave up after ${clock.monotonic()} ms`);
  assert.ok(runs() > 5 && runs() < 40, `${runs()} runs: paced, not hammered`);
  assert.deepEqual(
    lines.filter((line) => line.message === "synchronization failed").length,
    1,
    "the last round's failure is logged",
  );
  // One patience per outage and worker, not per job: the next job does not wait 5 minutes more.
  const next = harness([unreachable], async () => {}, clock, wait.outage);
  const started = clock.monotonic();
  assert.equal((await runWhileStateAway(next.run, next.wait)).status, "failed");
  assert.equal(next.runs(), 1);
  assert.equal(clock.monotonic(), started);
  // A job that gets past the store ends the outage: the next failure waits again.
  const past = harness([synced], async () => {}, clock, wait.outage);
  await runWhileStateAway(past.run, past.wait);
  const again = harness([unreachable, synced], async () => {}, clock, wait.outage);
  assert.equal((await runWhileStateAway(again.run, again.wait)).status, "synced");
});

test("a wait for the store that itself fails counts as the store still away: paced rounds, then the failure", async () => {
  const { clock, wait, run, runs } = harness([unreachable], async () => {
    throw new Error("connection closed for good");
  });
  assert.equal((await runWhileStateAway(run, wait)).status, "failed");
  assert.ok(clock.monotonic() >= STATE_PATIENCE_MS);
  assert.ok(runs() < 40, `${runs()} runs`);
});

test("a stop while waiting ends the wait with its reason (the worker hands the job back)", async () => {
  const stop = new Error("SIGTERM");
  const { wait, run, controller } = harness([unreachable], (signal) => {
    queueMicrotask(() => controller.abort(stop));
    return new Promise((_, reject) =>
      signal.addEventListener("abort", () => reject(signal.reason)),
    );
  });
  await assert.rejects(runWhileStateAway(run, wait), (error) => error === stop);
});
