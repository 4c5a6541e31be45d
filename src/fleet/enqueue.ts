/**
 * `resilient-sync enqueue`: plans a batch exactly as a run on this machine would (remote
 * directories listed, destinations named, collisions and bad checksums refused before anything
 * is queued), then puts one job per planned pair on the fleet's queue. With `wait`, it follows
 * the batch to its end and reports as a local run does: results in plan order, the same summary
 * and exit code.
 */
import { type Job, Queue, QueueEvents } from "bullmq";
import type { Clock } from "../clock.js";
import { ResultBuilder, type SourceResult } from "../core/result.js";
import type { JobSpec } from "../core/spec.js";
import { SyncError, UsageError } from "../errors.js";
import type { Logger } from "../log/events.js";
import type { ResolvedOptions } from "../options/normalize.js";
import { remoteListing } from "../run/listing.js";
import { plan } from "../run/plan.js";
import { finishReport, type Report, Tally } from "../run/report.js";
import { ResultOrder, type ResultSink } from "../run/result-order.js";
import { buildRuntime, openState } from "../run/runtime.js";
import { jobSpecOf } from "../run/specs.js";
import type { RedisLocation } from "../state/redis/location.js";
import {
  connectionOf,
  type FleetJob,
  JOB_OPTIONS,
  jobIdOf,
  MAX_STALLS,
  QUEUE_NAME,
  queuePrefixOf,
} from "./queue.js";
import { checkReachable } from "./reachable.js";

export interface EnqueueSettings {
  queue: RedisLocation;
  /** The batch's options; their `state` is the shared state the plan reads circuits from. */
  options: ResolvedOptions;
  /** The batch id: job ids start with it, and a waited-for report carries it as `run_id`. */
  batch: string;
  wait: boolean;
  version: string;
  clock: Clock;
  logger: Logger;
  /** Aborting it stops the planning or the waiting; queued jobs stay queued. */
  signal: AbortSignal;
  /** With `wait`: each result, in plan order (as `sync`'s `onResult`). */
  onResult?: ResultSink;
  /** Called once every job is on the queue, before any waiting. */
  onQueued?: (jobs: number) => void;
  hooks: { delayScale?: number };
}

/** Jobs added per round trip. */
const ADD_CHUNK = 500;

/**
 * Plans and queues the batch; with `wait`, resolves once every job has finished, to the batch's
 * report (its `results` empty: they went to `onResult`). Throws `UsageError` for a bad plan or a
 * source with credentials in its URL (nothing queued then), `EnvironmentError` when Redis cannot
 * be reached, and the signal's reason when interrupted.
 */
export async function enqueueBatch(
  settings: EnqueueSettings,
): Promise<{ jobs: number; report?: Report }> {
  const { options, clock, logger, signal, batch } = settings;
  refuseCredentials(options);
  const startedAt = clock.now();
  const started = clock.monotonic();
  await checkReachable(settings.queue, "--queue", logger);
  const state = await openState(options, clock, logger);
  let pairs: ReturnType<typeof jobSpecOf>[];
  try {
    const { runtime, http, close } = await buildRuntime({
      options,
      store: state.store,
      clock,
      logger,
      random: Math.random,
      version: settings.version,
      needsHttp: options.sources.some(({ location }) => location.kind === "http"),
      credentials: new Map(),
    });
    try {
      const listing = remoteListing({
        http,
        runtime,
        options,
        prepareState: () => state.prepare(),
        clock,
        logger,
        delayScale: settings.hooks.delayScale ?? 1,
        signal,
      });
      const planned = await plan(options, listing);
      pairs = planned.pairs.map((pair) => jobSpecOf(pair, options));
    } finally {
      await close();
    }
  } finally {
    await state.close();
  }
  signal.throwIfAborted();

  const connection = connectionOf(settings.queue);
  const prefix = queuePrefixOf(options.state.kind === "redis" ? options.state.prefix : "");
  const queue = new Queue<FleetJob, SourceResult>(QUEUE_NAME, { connection, prefix });
  // Every job waited for listens for the queue's closing: as many listeners as jobs, no leak.
  queue.setMaxListeners(0);
  // Listening before the first job is added: no job can finish unseen.
  const events = settings.wait ? new QueueEvents(QUEUE_NAME, { connection, prefix }) : undefined;
  try {
    await events?.waitUntilReady();
    const jobs: Job<FleetJob, SourceResult>[] = [];
    for (let from = 0; from < pairs.length; from += ADD_CHUNK) {
      const chunk = pairs.slice(from, from + ADD_CHUNK).map((spec, offset) => {
        const index = from + offset;
        return {
          name: "sync",
          data: { batch, index, spec },
          opts: { ...JOB_OPTIONS, jobId: jobIdOf(batch, index) },
        };
      });
      jobs.push(...(await queue.addBulk(chunk)));
    }
    logger.emit("info", "enqueued batch", {
      batch_id: batch,
      jobs: jobs.length,
      queue: settings.queue.display,
    });
    settings.onQueued?.(jobs.length);
    if (!events) return { jobs: jobs.length };
    const tally = await follow(jobs, pairs, events, settings);
    const report = finishReport(
      tally,
      {
        runId: batch,
        version: settings.version,
        startedAt,
        finishedAt: clock.now(),
        durationMs: Math.round(clock.monotonic() - started),
      },
      logger,
    );
    return { jobs: jobs.length, report };
  } finally {
    await events?.close();
    await queue.close();
  }
}

/** Waits for every job; hands each result on in plan order; rejects when `signal` aborts. */
async function follow(
  jobs: Job<FleetJob, SourceResult>[],
  specs: JobSpec[],
  events: QueueEvents,
  settings: EnqueueSettings,
): Promise<Tally> {
  const { clock, signal } = settings;
  const tally = new Tally();
  const order = new ResultOrder(settings.onResult ?? (() => {}));
  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(signal.reason);
    if (signal.aborted) fail();
    else signal.addEventListener("abort", fail, { once: true });
  });
  aborted.catch(() => {});
  const outcomes = jobs.map(async (job, index) => {
    const spec = specs[index] as JobSpec;
    let result: SourceResult;
    try {
      result = (await job.waitUntilFinished(events)) as SourceResult;
    } catch (error) {
      // BullMQ failed the job: its workers died more often than allowed, or it could not run.
      const reason = error instanceof Error ? error.message : String(error);
      result = new ResultBuilder(spec, clock).failed(
        new SyncError(
          "worker_lost",
          `the fleet gave up on job ${job.id} (taken back from a lost worker up to ${MAX_STALLS} times, or refused): ${reason}`,
        ),
      );
    }
    tally.add(result);
    await order.put(index, result);
  });
  try {
    await Promise.race([Promise.all(outcomes), aborted]);
  } finally {
    await order.drain();
  }
  return tally;
}

/**
 * A job carries no secrets: a source URL with a user or password cannot be queued. The workers
 * get credentials from their own `--netrc` or `--header` (docs/scaling.md).
 */
function refuseCredentials(options: ResolvedOptions): void {
  for (const { location, argument } of options.sources) {
    if (location.kind !== "http" || !location.href.includes("@")) continue;
    const url = new URL(location.href);
    if (url.username === "" && url.password === "") continue;
    throw new UsageError(
      argument,
      `${argument} ${location.display} carries credentials, which a queued job never does: give them to each worker (--netrc, --header)`,
    );
  }
}
