/**
 * `sync(options)`: validate the options, check the environment, plan pairs, turn them into job
 * specs, run them through a pool of workers against one runtime, and summarise one report.
 * Never exits the process.
 */
import { randomBytes } from "node:crypto";
import { type Clock, systemClock } from "../clock.js";
import { isDeadline } from "../core/context.js";
import { runJob } from "../core/job.js";
import type { ProgressEvent } from "../core/progress.js";
import { ResultBuilder, type SourceResult } from "../core/result.js";
import type { Failpoint } from "../failpoints.js";
import { type Logger, silentLogger } from "../log/events.js";
import { unverifiedTls } from "../options/network.js";
import { normalizeOptions, type ResolvedOptions, type SyncOptions } from "../options/normalize.js";
import { packageVersion } from "../options/package.js";
import { absoluteIn, withAbsolutePaths } from "../options/paths.js";
import { checkOptionShapes, refuseCommandLineOnly } from "../options/shapes.js";
import { logRunSettings, validateEnvironment, warnUnusedDirectoryOptions } from "./environment.js";
import { withListedSources } from "./inputs.js";
import { remoteListing } from "./listing.js";
import { recordMetrics } from "./metrics.js";
import type { PlannedPair } from "./plan.js";
import { plan } from "./plan.js";
import { finishReport, type Report, Tally } from "./report.js";
import { ResultOrder, type ResultSink } from "./result-order.js";
import { runSignal } from "./run-signal.js";
import { buildRuntime, openState, type RunState } from "./runtime.js";
import { schedule } from "./scheduler.js";
import { credentialsOf, jobSpecOf, type SourceCredentials } from "./specs.js";

export interface RunOptions extends SyncOptions {
  /** 32 lowercase hex characters identifying the run in logs and the report. */
  runId?: string;
  /** Receives progress events: the plan, each transfer's start, bytes and result. */
  onProgress?: (event: ProgressEvent) => void;
  /**
   * Receives every pair's result once, in plan order, as soon as the pairs planned before it
   * have theirs; a promise it returns holds the workers until it settles. Called before `sync`
   * settles, also for the results of a run that is then rejected (interrupted): those finished
   * before the interruption, in plan order. A callback that throws fails the run.
   */
  onResult?: ResultSink;
  /**
   * `false`: the report's `results` stays empty (its summary and exit code still count every
   * pair), so that memory does not grow with the number of pairs; take them with `onResult`.
   * Default `true`.
   */
  retainResults?: boolean;
}

/** For the project's own tests, through the CLI: crash points and faster backoff. */
export interface TestHooks {
  failpoint?: Failpoint;
  /** Multiplies every backoff and Retry-After delay. */
  delayScale?: number;
}

export function newRunId(): string {
  return randomBytes(16).toString("hex");
}

/**
 * Syncs every source to its destination and resolves to the results document. Rejects with
 * `UsageError` for invalid options, `EnvironmentError` for an unfit machine, and the signal's
 * reason when `options.signal` aborts (after releasing locks; no partial destination).
 */
export function sync(options: RunOptions = {}): Promise<Report> {
  try {
    refuseCommandLineOnly(options);
  } catch (error) {
    return Promise.reject(error);
  }
  return runSync(options, {});
}

/** `sync` with the test hooks the CLI may set. */
export async function runSync(options: RunOptions, hooks: TestHooks): Promise<Report> {
  // First of all: nothing below may trust a library caller's values before they are checked.
  checkOptionShapes(options);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const startedAt = clock.now();
  const started = clock.monotonic();
  const runId = options.runId ?? newRunId();
  const version = packageVersion();

  // Relative paths are the working folder's when `sync` is called (a caller may `chdir` right
  // after the call): resolved before the first `await`, the list's lines against that folder.
  const { inputFile } = options;
  const cwd = process.cwd();
  const given = inputFile === undefined ? options : withAbsolutePaths(options, cwd);
  const resolved = normalizeOptions({
    ...given,
    sources:
      given.inputFile === undefined
        ? (given.sources ?? [])
        : (await withListedSources(given.sources ?? [], given.inputFile, given.sourceUrl)).map(
            (source) => absoluteIn(cwd, source),
          ),
  });
  logRunSettings(resolved, logger);

  // A callback that throws must not crash the host or leave a run unsettled: it is a warning.
  const userProgress = options.onProgress;
  const onProgress =
    userProgress &&
    ((event: ProgressEvent) => {
      try {
        userProgress(event);
      } catch (error) {
        logger.emit("warning", "progress callback failed", {
          reason: error instanceof Error ? error.message : String(error),
        });
      }
    });

  // The state first: a shared store that cannot be reached stops the run before anything else
  // (exit 42). Closed on every way out below.
  const state = await openState(resolved, clock, logger, hooks.failpoint);
  try {
    return await runWithState(options, hooks, resolved, state, {
      clock,
      logger,
      onProgress,
      startedAt,
      started,
      runId,
      version,
    });
  } finally {
    await state.close();
  }
}

/** The rest of `runSync`, once the state is open. */
async function runWithState(
  options: RunOptions,
  hooks: TestHooks,
  resolved: ResolvedOptions,
  state: RunState,
  run: {
    clock: Clock;
    logger: Logger;
    onProgress: ((event: ProgressEvent) => void) | undefined;
    startedAt: number;
    started: number;
    runId: string;
    version: string;
  },
): Promise<Report> {
  const { clock, logger, onProgress, startedAt, started, runId, version } = run;
  const { store } = state;
  const { signal, cancel: cancelDeadline } = runSignal(
    clock,
    resolved.deadlineMs,
    options.signal,
    resolved.maxWorkers,
  );
  for (const reason of unverifiedTls(resolved.network)) {
    logger.emit("warning", "TLS certificates not verified", { reason });
  }

  // The runtime comes before the plan: remote directories are listed with its HTTP client and
  // origin health. It writes nothing until a job runs; the credentials are filled in once planned.
  const credentials: SourceCredentials = new Map();
  const { runtime, http, close } = await buildRuntime({
    options: resolved,
    store,
    clock,
    logger,
    random: options.random ?? Math.random,
    version,
    needsHttp: resolved.sources.some(({ location }) => location.kind === "http"),
    credentials,
    ...(onProgress ? { onProgress } : {}),
    testHooks: hooks,
  });
  const listing = remoteListing({
    http,
    runtime,
    options: resolved,
    prepareState: () => state.prepare(),
    clock,
    logger,
    delayScale: hooks.delayScale ?? 1,
    signal,
  });

  const retained: SourceResult[] | undefined = options.retainResults === false ? undefined : [];
  const tally = new Tally();
  const userSink = options.onResult;
  const order = userSink && new ResultOrder(userSink);
  let retries = 0;
  const origins = new Set<string>();
  const deliver = (index: number, result: SourceResult): Promise<void> | undefined => {
    tally.add(result);
    retries += Math.max(0, result.attempts - 1);
    if (retained) retained[index] = result;
    return order?.put(index, result);
  };
  try {
    // Plan first: a plan refused (collisions, a bad checksum file) must leave nothing written.
    const planned = await plan(resolved, listing);
    const { emptyDirectories, skippedLinks, skippedSpecial } = planned;
    for (const [bare, href] of credentialsOf(planned.pairs)) credentials.set(bare, href);
    await validateEnvironment(state.validate, logger, resolved.dryRun);
    for (const { source, link, reason } of skippedLinks)
      logger.emit("warning", "skipped symlink", { source, link, reason });
    for (const { source, path, kind } of skippedSpecial)
      logger.emit("warning", "skipped special file", { source, path, kind });
    for (const source of emptyDirectories) {
      logger.emit("warning", "directory matched no files", { source, pattern: resolved.pattern });
    }
    warnUnusedDirectoryOptions(resolved, planned.directories, logger);
    if (planned.checksumFileMatched === 0 && resolved.checksumFile !== undefined)
      logger.emit("warning", "checksum file matched no source", { file: resolved.checksumFile });
    if (retained) retained.length = planned.pairs.length;
    // Only the metrics file reads them, one circuit series per http(s) origin. A local file is
    // an origin of its own: a 100,000-file mirror would give 100,000 series.
    if (resolved.metricsFile !== undefined)
      for (const pair of planned.pairs)
        if (!pair.invalid && pair.source.kind === "http") origins.add(pair.source.origin);
    onProgress?.({ type: "planned", total: planned.pairs.length });
    const work = resolved.dryRun ? (await import("./dry-run.js")).planJob : runJob;
    // Each pair becomes a job spec only when a worker takes it, and is let go once done.
    await schedule(handOut(planned.pairs), {
      limit: resolved.maxWorkers,
      gate: runtime.health.gate,
      originOf: (pair) => (pair.invalid ? undefined : pair.source.origin),
      work: async (pair, index, turn) => {
        const spec = jobSpecOf(pair, resolved);
        onProgress?.({
          type: "started",
          source: spec.source.display,
          destination: spec.destination,
        });
        const result = await work(spec, runtime, signal, turn);
        onProgress?.({ type: "finished", result });
        await deliver(index, result);
      },
      signal,
      // A local file is an origin of its own: once its pair is done, what the run knew of it goes
      // (a million files, not a million states; a second pair of that file starts it afresh).
      finished: (pair) => {
        if (!pair.invalid && pair.source.kind === "file") runtime.health.forget(pair.source.origin);
      },
      // Past the deadline, what never started fails as `deadline`, and the report is still made.
      unstarted: async (pair, index, reason) => {
        if (!isDeadline(reason)) return false;
        const spec = jobSpecOf(pair, resolved);
        logger.emit("error", "synchronization failed", {
          source: spec.source.display,
          destination: spec.destination,
          error_code: reason.code,
          reason: reason.message,
        });
        const result = new ResultBuilder(spec, clock).failed(reason);
        onProgress?.({ type: "finished", result });
        await deliver(index, result);
        return true;
      },
    });
  } finally {
    cancelDeadline();
    try {
      await close();
    } finally {
      // An interrupted run (or a close that failed) still hands on what finished, so a streamed
      // document can be closed whole.
      await order?.drain();
    }
  }

  const report = finishReport(
    tally,
    {
      runId,
      version,
      startedAt,
      finishedAt: clock.now(),
      durationMs: Math.round(clock.monotonic() - started),
    },
    logger,
    retained ?? [],
  );
  if (resolved.metricsFile !== undefined && !resolved.dryRun)
    await recordMetrics(resolved.metricsFile, { report, retries, origins, store, logger });
  return report;
}

/** The pairs in order, each slot emptied as it is handed out: a pair lives only while worked on. */
function* handOut(pairs: PlannedPair[]): Generator<PlannedPair> {
  for (let index = 0; index < pairs.length; index += 1) {
    const pair = pairs[index] as PlannedPair;
    pairs[index] = undefined as unknown as PlannedPair;
    yield pair;
  }
}
