/**
 * `sync(options)`: validate the options, check the environment, turn sources into pairs, run
 * them through a pool of workers, and summarise one report. Never exits the process.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { type Clock, systemClock } from "./clock.js";
import { planPair } from "./dry-run.js";
import { validateEnvironment } from "./environment.js";
import { SyncError, UsageError } from "./errors.js";
import { type Failpoint, noFailpoint } from "./failpoints.js";
import { type JobContext, syncPair } from "./job.js";
import { type Logger, silentLogger } from "./log/events.js";
import {
  checkOptionShapes,
  normalizeOptions,
  packageVersion,
  type SyncOptions,
} from "./options.js";
import { type PlannedPair, plan } from "./plan.js";
import { OriginGate } from "./policies/origin-gate.js";
import type { ProgressEvent } from "./progress.js";
import { exitCodeFor, type Report, type SourceResult, summarize } from "./report.js";
import { runScheduled } from "./scheduler.js";
import { FileSource } from "./sources/file.js";
import { HttpClient } from "./sources/http.js";
import { Circuits } from "./state/circuits.js";
import { FsStateStore } from "./state/fs-store.js";
import { syncFolders } from "./transfer/commit.js";

export interface RunOptions extends SyncOptions {
  /** 32 lowercase hex characters identifying the run in logs and the report. */
  runId?: string;
  /** Receives progress events: the plan, each transfer's start, bytes and result. */
  onProgress?: (event: ProgressEvent) => void;
  /** Crash tests freeze the run at a named point (see failpoints.ts). */
  failpoint?: Failpoint;
}

/** Reads sources from a file (or stdin for `-`), one a line; blank lines and `#` comments skipped. */
export async function readSourceList(path: string): Promise<string[]> {
  const text = path === "-" ? await readStdin() : await readFile(path, "utf8");
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export function newRunId(): string {
  return randomBytes(16).toString("hex");
}

/**
 * Syncs every source to its destination and resolves to the results document (SPEC section 5).
 * Rejects with `UsageError` for invalid options, `EnvironmentError` for an unfit machine, and the
 * signal's reason when `options.signal` aborts (after releasing locks; no partial destination).
 */
export async function sync(options: RunOptions = {}): Promise<Report> {
  const clock: Clock = options.clock ?? systemClock;
  const logger: Logger = options.logger ?? silentLogger;
  const startedAt = clock.now();
  const started = clock.monotonic();
  const runId = options.runId ?? newRunId();
  const version = packageVersion();

  const failpoint = options.failpoint ?? noFailpoint;
  checkOptionShapes(options);
  const listed =
    options.inputFile === undefined
      ? []
      : await readSourceList(options.inputFile).catch((error: unknown) => {
          throw new UsageError(
            "--input-file",
            `--input-file cannot be read: ${(error as Error).message}`,
          );
        });
  const resolved = normalizeOptions({
    ...options,
    sources: [...(options.sources ?? []), ...listed],
  });

  // Plan first: a plan refused (collisions, a bad checksum file) must leave nothing written.
  const { pairs, emptyDirectories } = await plan(resolved);
  const store = new FsStateStore(resolved.lockDir, clock, logger, failpoint);
  await validateEnvironment(store, logger, resolved.dryRun);
  for (const source of emptyDirectories) {
    logger.emit("warning", "directory matched no files", { source, pattern: resolved.pattern });
  }
  const onProgress = options.onProgress;
  onProgress?.({ type: "planned", total: pairs.length });

  const deadline = new AbortController();
  const signals = [deadline.signal, ...(options.signal ? [options.signal] : [])];
  const signal = AbortSignal.any(signals);
  const deadlineMs = resolved.deadlineMs;
  const deadlineTimer =
    deadlineMs === undefined
      ? undefined
      : setTimeout(() => {
          deadline.abort(
            new SyncError("deadline", `run deadline of ${deadlineMs / 1000} s passed`),
          );
        }, deadlineMs);

  const http = pairs.some((pair) => pair.source.kind === "http")
    ? await HttpClient.create({
        timeoutMs: resolved.timeoutMs,
        headers: resolved.headers,
        userAgent: `resilient-sync/${version}`,
        now: () => clock.now(),
      })
    : undefined;

  const context: JobContext = {
    options: resolved,
    store,
    circuits: new Circuits(store, clock, logger, {
      ttlMs: resolved.circuitTtlMs,
      threshold: resolved.circuitThreshold,
    }),
    gate: new OriginGate(),
    clock,
    logger,
    random: options.random ?? Math.random,
    sourceFor: (pair: PlannedPair) =>
      pair.source.kind === "http" && http
        ? http.source(pair.source.href)
        : new FileSource(pair.source.href),
    signal,
    deadlinePassed: () => deadline.signal.aborted,
    failpoint,
    dirtyFolders: new Set<string>(),
    ...(onProgress ? { onProgress } : {}),
  };
  const work = resolved.dryRun ? planPair : syncPair;

  let results: SourceResult[];
  try {
    results = await runScheduled(
      pairs,
      resolved.maxWorkers,
      context.gate,
      (pair) => (pair.invalid ? undefined : pair.source.origin),
      async (pair, turn) => {
        onProgress?.({
          type: "started",
          source: pair.source.display,
          destination: pair.destination,
        });
        const result = await work(pair, context, turn);
        onProgress?.({ type: "finished", result });
        return result;
      },
      signal,
    );
  } finally {
    clearTimeout(deadlineTimer);
    await http?.close();
  }

  // Renames become durable here, one fsync per folder rather than one per file. A folder that
  // cannot be synced leaves its renames undurable: those sources did not sync.
  const unsynced = await syncFolders(context.dirtyFolders);
  if (unsynced.size > 0) {
    results = results.map((result) => {
      const error = unsynced.get(dirname(result.destination));
      if (!error || result.status !== "synced") return result;
      const message = `the folder of ${result.destination} could not be synced: ${error.message}`;
      logger.emit("error", "synchronization failed", {
        source: result.source,
        destination: result.destination,
        error_code: "write_error",
        reason: message,
      });
      return {
        ...result,
        status: "failed" as const,
        error: { code: "write_error" as const, message },
      };
    });
  }
  const summary = summarize(results);
  const exitCode = exitCodeFor(results);
  const durationMs = Math.round(clock.monotonic() - started);
  logger.emit(exitCode === 0 ? "info" : "error", "synchronization complete", {
    exit_code: exitCode,
    duration_ms: durationMs,
    ...summary,
  });
  return {
    run_id: runId,
    version,
    started_at: new Date(startedAt).toISOString(),
    finished_at: new Date(clock.now()).toISOString(),
    duration_ms: durationMs,
    exit_code: exitCode,
    summary,
    results,
  };
}
