/**
 * `resilient-sync worker`: takes jobs off the fleet's queue and runs each with the core's
 * `runJob`, against the shared Redis state (leases, fences, markers, circuits), until stopped.
 *
 * What BullMQ does and what we do: BullMQ hands each job to one worker at a time and, when a
 * worker stops renewing its job locks (killed, frozen, cut off), gives its jobs to another
 * (`stalledAfterMs`). That alone could run a job twice — the stalled worker may still be alive.
 * Our pair leases and fencing tokens are what make it safe: a second runner waits for or takes
 * over the lease, and a holder that lost it can no longer commit (docs/state.md).
 */
import { DelayedError, type Job, UnrecoverableError, WaitingError, Worker } from "bullmq";
import type { Clock } from "../clock.js";
import { runJob } from "../core/job.js";
import type { SourceResult } from "../core/result.js";
import { EnvironmentError } from "../errors.js";
import type { Failpoint } from "../failpoints.js";
import { type Logger, tagged } from "../log/events.js";
import type { ResolvedOptions } from "../options/normalize.js";
import { buildRuntime, openState } from "../run/runtime.js";
import { CONNECT_TIMEOUT_MS } from "../state/redis/connection.js";
import type { RedisLocation } from "../state/redis/location.js";
import { RedisStateStore } from "../state/redis/store.js";
import { problemOf } from "./job-check.js";
import { QueueOutage } from "./outage.js";
import { connectionOf, type FleetJob, MAX_STALLS, QUEUE_NAME, queuePrefixOf } from "./queue.js";
import { checkReachable } from "./reachable.js";
import { runWhileStateAway, StateOutage } from "./state-wait.js";

export interface WorkerSettings {
  queue: RedisLocation;
  /** The runtime's settings (network, timeouts, circuits, bandwidth) and the shared state. */
  options: ResolvedOptions;
  concurrency: number;
  /** BullMQ's lock duration: a worker silent this long has its jobs taken over. */
  stalledAfterMs: number;
  workerId: string;
  /** The package version: the HTTP client's User-Agent. */
  version: string;
  clock: Clock;
  logger: Logger;
  /** Aborting it stops the worker: jobs in flight stop safely and go back to the queue. */
  signal: AbortSignal;
  hooks: { failpoint?: Failpoint; delayScale?: number };
  /** Called once, when it is ready and about to take jobs. */
  onStarted?: () => void;
}

/**
 * Runs until `signal` aborts; resolves to the number of jobs handed back then. Throws
 * `EnvironmentError` when the queue's or the state's Redis cannot be reached at start.
 */
export async function runWorker(settings: WorkerSettings): Promise<number> {
  const { options, clock, workerId, signal } = settings;
  const logger = tagged(settings.logger, { worker_id: workerId });
  await checkReachable(settings.queue, "--queue", logger);
  const state = await openState(options, clock, logger, settings.hooks.failpoint);
  const { store } = state;
  if (options.state.kind !== "redis" || !(store instanceof RedisStateStore)) {
    await state.close();
    throw new EnvironmentError("state", "a worker's state must be shared: --state redis://…");
  }
  const stateDisplay = options.state.redis.display;
  const { runtime, close } = await buildRuntime({
    options,
    store: state.store,
    clock,
    logger,
    random: Math.random,
    version: settings.version,
    needsHttp: true,
    // No URL carries credentials in a job: this worker's netrc and headers provide them.
    credentials: new Map(),
    testHooks: settings.hooks,
  });

  const inFlight = new Set<AbortController>();
  const stateOutage = new StateOutage(clock);
  let handedBack = 0;
  const handBack = async (job: Job<FleetJob, SourceResult>, token?: string) => {
    await job.moveToWait(token);
    handedBack += 1;
    tagged(logger, { job_id: String(job.id) }).emit("info", "job handed back", {
      job_id: String(job.id),
      source: job.data.spec.source.display,
      destination: job.data.spec.destination,
    });
    // Tells BullMQ the job was moved on purpose: neither completed nor failed.
    throw new WaitingError();
  };

  const worker = new Worker<FleetJob, SourceResult>(
    QUEUE_NAME,
    async (job, token) => {
      const problem = problemOf(job.data);
      if (problem) {
        logger.emit("error", "job refused", { job_id: String(job.id), reason: problem });
        throw new UnrecoverableError(problem);
      }
      if (signal.aborted) return handBack(job, token);
      const controller = new AbortController();
      inFlight.add(controller);
      try {
        const jobLogger = tagged(logger, { job_id: String(job.id) });
        const result = await runWhileStateAway(
          (roundLogger) =>
            runJob(
              takenOver(job, runtime.leaseTtlMs),
              { ...runtime, logger: roundLogger },
              controller.signal,
            ),
          {
            untilReachable: (until) => store.untilReachable(until),
            outage: stateOutage,
            clock,
            logger: jobLogger,
            job: {
              job_id: String(job.id),
              source: job.data.spec.source.display,
              destination: job.data.spec.destination,
            },
            signal: controller.signal,
          },
        );
        const rounds = job.data.busyRounds ?? 0;
        // A batch's own `--wait-lock` longer than a round is its budget: waited once, as locally.
        const ownWait = job.data.spec.waitLockMs > 2 * runtime.leaseTtlMs;
        if (result.status !== "skipped" || rounds >= MAX_BUSY_ROUNDS || ownWait) return result;
        // Skipped, a worker's job was busy: another runner holds its destination (no dry runs
        // here). That may be this very job's earlier delivery, given to this worker while the
        // first was only paused or cut off from the queue's Redis: its outcome is this job's,
        // not known yet. Asked again later, the job reports what that runner left.
        await job.updateData({ ...job.data, busyRounds: rounds + 1 });
        await job.moveToDelayed(Date.now() + BUSY_RETRY_MS, token);
        jobLogger.emit("info", "job delayed", {
          job_id: String(job.id),
          source: job.data.spec.source.display,
          destination: job.data.spec.destination,
          round: rounds + 1,
          retry_in_seconds: BUSY_RETRY_MS / 1000,
        });
        throw new DelayedError();
      } catch (error) {
        // Put back already (delayed): a stop arriving meanwhile has nothing left to hand back.
        if (error instanceof DelayedError) throw error;
        if (controller.signal.aborted) return handBack(job, token);
        throw error;
      } finally {
        inFlight.delete(controller);
      }
    },
    {
      connection: connectionOf(settings.queue),
      prefix: queuePrefixOf(options.state.prefix),
      concurrency: settings.concurrency,
      lockDuration: settings.stalledAfterMs,
      stalledInterval: settings.stalledAfterMs,
      maxStalledCount: MAX_STALLS,
      name: workerId,
      autorun: false,
    },
  );
  new QueueOutage(settings.queue.display, logger).watch(worker);

  const stopped = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
  const running = worker.run();
  // Redis gone between the check and here: the worker waits for it, but a signal still stops it.
  // Redis reachable a moment ago but not ready now: said once, then waited for as BullMQ does.
  const slow = clock.after(CONNECT_TIMEOUT_MS, () =>
    logger.emit("warning", "queue unreachable", {
      queue: settings.queue.display,
      reason: `not ready after ${CONNECT_TIMEOUT_MS / 1000} s; still trying`,
    }),
  );
  await Promise.race([worker.waitUntilReady(), stopped]);
  slow();
  if (signal.aborted) {
    // Not awaited: a Redis that never became ready never answers a close either.
    worker.disconnect().catch(() => {});
    await close();
    await state.close();
    return 0;
  }
  logger.emit("info", "worker started", {
    worker_id: workerId,
    queue: settings.queue.display,
    state: stateDisplay,
    concurrency: settings.concurrency,
  });
  settings.onStarted?.();
  try {
    await Promise.race([stopped, running]);
  } finally {
    // Jobs in flight stop (their leases released, their parts kept for a resume) and go back.
    for (const controller of inFlight) controller.abort(signal.reason);
    const shutdown = (async () => {
      await worker.close();
      await running.catch(() => {});
      await close();
      await state.close();
    })();
    if (!(await settlesWithin(shutdown, clock, SHUTDOWN_GRACE_MS))) {
      // Redis is away: nothing can be handed back or released. The jobs' queue locks and pair
      // leases lapse on their own and other workers take the jobs over; waiting longer would
      // only keep a stopping pod (or a systemd stop) hanging.
      logger.emit("warning", "queue unreachable", {
        queue: settings.queue.display,
        reason: `shutdown did not finish in ${SHUTDOWN_GRACE_MS / 1000} s; stopping without handing jobs back`,
      });
      // Not awaited: a disconnect waits for the connection's end, which an absent server never sends.
      worker.disconnect().catch(() => {});
    }
  }
  return handedBack;
}

/**
 * A busy job is put back at most this many times, each after waiting two lease times for the
 * destination (about 11 s a round): some 11 minutes for the runner holding it, after which the
 * job is reported `skipped` as a local run's would be. A batch given a `--wait-lock` longer than
 * a round is not put back: it waited as long as it asked.
 */
export const MAX_BUSY_ROUNDS = 60;
/** How long a busy job waits on the queue before it is asked again. */
const BUSY_RETRY_MS = 1_000;

/**
 * How long a stopping worker waits to hand its jobs back and close its connections. Normally
 * milliseconds; only an unreachable Redis makes it wait this long.
 */
export const SHUTDOWN_GRACE_MS = 5_000;

async function settlesWithin(work: Promise<unknown>, clock: Clock, ms: number): Promise<boolean> {
  const timer = new AbortController();
  const settled = work.then(
    () => true,
    () => true,
  );
  const lapsed = clock.sleep(ms, timer.signal).then(
    () => false,
    () => false,
  );
  try {
    return await Promise.race([settled, lapsed]);
  } finally {
    timer.abort();
  }
}

/**
 * A job's destination may be leased by a holder that is gone: a worker that went silent (its job
 * taken back), or one whose release was lost with Redis (a restart mid-commit). Such a lease
 * lapses within one lease time, unless its holder was only paused and renews. Skipping as
 * "another synchronization is in progress" would drop the work, so every job waits for a busy
 * destination up to twice the lease time (or the batch's own `--wait-lock`, if longer); one
 * still busy after that is really being written by someone else, and is skipped as locally.
 * Before, only jobs BullMQ had taken back waited, and a job running just after a Redis restart
 * was skipped at a lease its own earlier attempt had left (a flaky redis-restart test).
 */
function takenOver(job: { data: FleetJob }, leaseTtlMs: number) {
  const { spec } = job.data;
  return { ...spec, waitLockMs: Math.max(spec.waitLockMs, 2 * leaseTtlMs) };
}
