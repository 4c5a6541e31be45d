/**
 * `resilient-sync enqueue`: plans a batch exactly as a run on this machine would (remote
 * directories listed, destinations named, collisions and bad checksums refused before anything
 * is queued), then puts one job per planned pair on the fleet's queue. With `wait`, it follows
 * the batch to its end and reports as a local run does: results in plan order, the same summary
 * and exit code.
 */
import { Queue, QueueEvents } from "bullmq";
import type { Redis } from "ioredis";
import type { Clock } from "../clock.js";
import type { SourceResult } from "../core/result.js";
import { EnvironmentError, UsageError } from "../errors.js";
import type { Failpoint } from "../failpoints.js";
import type { Logger } from "../log/events.js";
import { isCredentialParameter } from "../log/redact.js";
import type { ResolvedOptions } from "../options/normalize.js";
import { remoteListing } from "../run/listing.js";
import { plan } from "../run/plan.js";
import { finishReport, type Report } from "../run/report.js";
import type { ResultSink } from "../run/result-order.js";
import { buildRuntime, openState } from "../run/runtime.js";
import { jobSpecOf } from "../run/specs.js";
import { CONNECT_TIMEOUT_MS, closeRedis } from "../state/redis/connection.js";
import type { RedisLocation } from "../state/redis/location.js";
import { addJobs, claimBatch, closeWithin, refusedBy } from "./add-jobs.js";
import { within } from "./bounded.js";
import { followBatch } from "./follow.js";
import { QueueOutage } from "./outage.js";
import { checkBatchId, connectionOf, type FleetJob, QUEUE_NAME, queuePrefixOf } from "./queue.js";
import { connectReachable } from "./reachable.js";

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
  hooks: { delayScale?: number; failpoint?: Failpoint };
}

/**
 * Plans and queues the batch; with `wait`, resolves once every job has finished, to the batch's
 * report (its `results` empty: they went to `onResult`). Throws `UsageError` for a bad plan, a
 * source with credentials in its URL or a batch id already used (nothing queued then),
 * `EnvironmentError` when Redis cannot be reached or is lost while queueing, and the signal's
 * reason when interrupted.
 */
export async function enqueueBatch(
  settings: EnqueueSettings,
): Promise<{ jobs: number; report?: Report }> {
  const { options, clock, logger, batch } = settings;
  checkBatchId(batch);
  refuseCredentials(options);
  const startedAt = clock.now();
  const started = clock.monotonic();
  const outage = new QueueOutage(settings.queue.display, logger);
  // Our own connection (fail-fast): checks Redis answers before anything else, then claims the
  // batch id, reads the server's clock and does the sweeps of a `--wait`.
  const direct = await connectReachable(settings.queue, "--queue", outage.asLogger());
  try {
    return await planAndQueue(settings, direct, outage, startedAt, started);
  } finally {
    closeRedis(direct);
  }
}

async function planAndQueue(
  settings: EnqueueSettings,
  direct: Redis,
  outage: QueueOutage,
  startedAt: number,
  started: number,
): Promise<{ jobs: number; report?: Report }> {
  const { options, clock, logger, signal, batch } = settings;
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

  const prefix = queuePrefixOf(options.state.kind === "redis" ? options.state.prefix : "");
  // Not BullMQ's "wait out any outage" connection: adding fails when Redis is gone (and the
  // enqueue says how far it got) rather than hanging an interactive command.
  const queue = new Queue<FleetJob, SourceResult>(QUEUE_NAME, {
    connection: connectionOf(settings.queue, true),
    prefix,
  });
  let events: QueueEvents | undefined;
  const display = settings.queue.display;
  // Redis gone (or frozen) before the first job: a clear error in seconds, never a wait forever.
  const ready = (work: Promise<unknown>) =>
    within(work, {
      ms: CONNECT_TIMEOUT_MS,
      signal,
      clock,
      late: () =>
        new EnvironmentError(
          "queue",
          `--queue ${display} did not answer within ${CONNECT_TIMEOUT_MS / 1000} s`,
        ),
    });
  try {
    outage.watch(queue);
    await ready(queue.waitUntilReady());
    signal.throwIfAborted();
    await claimBatch(direct, prefix, batch, display);
    if (settings.wait) {
      // From the server's clock, a moment before the first job: every finish is in the stream
      // after this id, however late this listener's first read happens.
      const [seconds, micros] = await direct.time().catch((error: unknown) => {
        throw refusedBy(display, error);
      });
      const lastEventId = `${Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - 1}-0`;
      events = new QueueEvents(QUEUE_NAME, {
        connection: connectionOf(settings.queue),
        prefix,
        lastEventId,
      });
      outage.watch(events);
      await ready(events.waitUntilReady());
    }
    await addJobs(queue, pairs, {
      batch,
      queueDisplay: settings.queue.display,
      logger,
      signal,
      failpoint: settings.hooks.failpoint,
      direct,
    });
    logger.emit("info", "enqueued batch", {
      batch_id: batch,
      jobs: pairs.length,
      queue: settings.queue.display,
    });
    settings.onQueued?.(pairs.length);
    if (!events) return { jobs: pairs.length };
    const tally = await followBatch({
      queue,
      redis: direct,
      events,
      batch,
      specs: pairs,
      queueDb: settings.queue.db,
      queueDisplay: settings.queue.display,
      outage,
      clock,
      logger,
      signal,
      ...(settings.onResult ? { onResult: settings.onResult } : {}),
    });
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
    return { jobs: pairs.length, report };
  } finally {
    // A Redis that went away never answers a close: the connections are dropped instead.
    await Promise.all([closeWithin(events, clock), closeWithin(queue, clock)]);
  }
}

/**
 * A job carries no secrets, and Redis keeps jobs in plain text: a source URL with a user, a
 * password or a credential-like query parameter (`token`, `X-Amz-Signature` …: the names the
 * logs redact) cannot be queued. Workers get credentials from their own `--netrc` or `--header`
 * (docs/scaling.md).
 */
function refuseCredentials(options: ResolvedOptions): void {
  for (const { location, argument } of options.sources) {
    if (location.kind !== "http" || !/[@?#]/.test(location.href)) continue;
    const url = new URL(location.href);
    const named = [...url.searchParams.keys()].filter(isCredentialParameter);
    const what =
      url.username !== "" || url.password !== ""
        ? "a user or password"
        : named.length > 0
          ? `a credential-like query parameter (${named.join(", ")})`
          : // Never sent to a server, yet where OAuth puts tokens (`#access_token=…`).
            url.hash.length > 1
            ? "a fragment (#…), where tokens travel"
            : undefined;
    if (what === undefined) continue;
    throw new UsageError(
      argument,
      `${argument} ${location.display} carries credentials (${what}), which a queued job never does: give them to each worker (--netrc, --header)`,
    );
  }
}
