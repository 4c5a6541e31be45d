/**
 * One source/destination pair, end to end: lock, origin gate and circuit admission, idempotency
 * check, the transfer under the retry policy, verification, atomic commit, marker — and one
 * result.
 */
import { stat } from "node:fs/promises";
import type { Clock } from "./clock.js";
import { SyncError } from "./errors.js";
import type { Failpoint } from "./failpoints.js";
import type { Logger } from "./log/events.js";
import type { ResolvedOptions } from "./options.js";
import type { PlannedPair } from "./plan.js";
import { backoffDelayMs } from "./policies/backoff.js";
import type { OriginGate, Turn } from "./policies/origin-gate.js";
import { withRetry } from "./policies/retry.js";
import type { ProgressEvent } from "./progress.js";
import type { SourceResult } from "./report.js";
import type { Source, Validators } from "./sources/source.js";
import type { Circuits } from "./state/circuits.js";
import { destinationKey, type Lock, type Marker, pairKey, type StateStore } from "./state/store.js";
import {
  commitPart,
  type DestinationInfo,
  partPathFor,
  prepareDestination,
} from "./transfer/commit.js";
import { type ChecksumAlgorithm, hashFile } from "./transfer/digest.js";
import { type AttemptContext, attemptTransfer, forgetPart } from "./transfer/transfer.js";

export interface JobContext {
  options: ResolvedOptions;
  store: StateStore;
  circuits: Circuits;
  gate: OriginGate;
  clock: Clock;
  logger: Logger;
  random: () => number;
  sourceFor(pair: PlannedPair): Source;
  /** Aborts on the caller's signal or the run's deadline. */
  signal: AbortSignal;
  /** True when `signal` fired because the run's deadline passed (not a user abort). */
  deadlinePassed(): boolean;
  onProgress?: (event: ProgressEvent) => void;
  failpoint: Failpoint;
  /** Folders whose renames still await an fsync: done once per folder at the end of the run. */
  dirtyFolders: Set<string>;
}

/** Builds a pair's result with the SPEC's keys in the SPEC's order. */
export class ResultBuilder {
  readonly #pair: PlannedPair;
  readonly #algorithm: ChecksumAlgorithm;
  readonly #clock: Clock;
  readonly #started: number;

  constructor(pair: PlannedPair, algorithm: ChecksumAlgorithm, clock: Clock) {
    this.#pair = pair;
    this.#algorithm = algorithm;
    this.#clock = clock;
    this.#started = clock.monotonic();
  }

  result(fields: Partial<SourceResult> & Pick<SourceResult, "status">): SourceResult {
    return {
      source: this.#pair.source.display,
      destination: this.#pair.destination,
      status: fields.status,
      checksum: fields.checksum ?? null,
      algorithm: this.#algorithm,
      bytes: fields.bytes ?? 0,
      attempts: fields.attempts ?? 0,
      duration_ms: Math.round(this.#clock.monotonic() - this.#started),
      error: fields.error ?? null,
    };
  }

  failed(error: SyncError, fields: Partial<SourceResult> = {}): SourceResult {
    return this.result({
      ...fields,
      status: "failed",
      error: { code: error.code, message: error.message },
    });
  }
}

export function algorithmOf(pair: PlannedPair, options: ResolvedOptions): ChecksumAlgorithm {
  return pair.expected?.algorithm ?? options.algorithm;
}

/** The state keys of a pair: its marker's, and its destination's (lock and part file). */
export function keysOf(pair: PlannedPair): { marker: string; destination: string } {
  return {
    marker: pairKey(pair.source.display, pair.destination),
    destination: destinationKey(pair.destination),
  };
}

/** Syncs one pair. Resolves to its result; rejects only when the caller aborts. */
export async function syncPair(
  pair: PlannedPair,
  context: JobContext,
  turn?: Turn,
): Promise<SourceResult> {
  const algorithm = algorithmOf(pair, context.options);
  const build = new ResultBuilder(pair, algorithm, context.clock);
  const names = { source: pair.source.display, destination: pair.destination };
  if (pair.invalid) return refusedPair(pair, pair.invalid, context);

  const keys = keysOf(pair);
  let lock: Lock | undefined;
  // The turn at the origin's gate; a transfer may give it back and queue again between retries.
  const gate: GateTurn = {
    turn: turn ?? (await context.gate.enter(pair.source.origin, context.signal)),
    epoch: context.gate.epoch(pair.source.origin),
  };
  let probing = false;
  try {
    const quick = await unchangedWithoutLock(pair, keys, algorithm, build, gate, context);
    if (quick && !("prior" in quick)) return quick;
    // One run per destination: two sources aimed at one file must not interleave their part data.
    lock = await takeLock(keys.destination, pair, context);
    if (!lock) {
      context.logger.emit("info", "another synchronization is in progress", {
        ...names,
        lock: keys.destination,
      });
      const marker = await context.store.readMarker(keys.marker);
      const intact = await markerStillDescribes(marker, pair, algorithm);
      return build.result({
        status: "skipped",
        checksum: intact ? (marker?.checksum ?? null) : null,
      });
    }
    await context.failpoint("after-lock");
    const admission = await context.circuits.admit(pair.source.origin, pair.source.display);
    if (admission.decision === "reject") {
      return build.failed(circuitOpenError(pair, admission.retryInMs), {
        checksum: await currentChecksum(keys.marker, pair, algorithm, context),
      });
    }
    probing = admission.decision === "probe";
    const outcome = await transferAndCommit(
      pair,
      keys,
      algorithm,
      probing,
      gate,
      context,
      quick?.prior,
    );
    await reportToCircuit(pair, outcome, probing, gate, context);
    probing = false;
    if (outcome.error) {
      return build.failed(outcome.error, {
        attempts: outcome.attempts,
        bytes: outcome.bytes,
        checksum: await currentChecksum(keys.marker, pair, algorithm, context),
      });
    }
    return build.result({
      status: outcome.status,
      checksum: outcome.checksum,
      bytes: outcome.bytes,
      attempts: outcome.attempts,
    });
  } catch (error) {
    // An interrupted probe proved nothing: the next caller may probe at once.
    if (probing) await context.circuits.abandonProbe(pair.source.origin).catch(() => {});
    if (context.signal.aborted && !context.deadlinePassed()) throw error;
    // The deadline, or a fault outside the transfer (the state store failing to write a
    // marker …): this pair fails, the batch goes on.
    const failure = context.signal.aborted
      ? (context.signal.reason as SyncError)
      : new SyncError("write_error", `${error instanceof Error ? error.message : String(error)}`, {
          cause: error,
        });
    context.logger.emit("error", "synchronization failed", {
      ...names,
      error_code: failure.code,
      reason: failure.message,
    });
    return build.failed(failure, {
      checksum: await currentChecksum(keys.marker, pair, algorithm, context).catch(() => null),
    });
  } finally {
    gate.turn.leave();
    await lock?.release();
  }
}

/**
 * The no-op fast path: when the destination still matches its marker, ask the source whether it
 * changed (a conditional GET answered 304; for files, a stat) before taking any lock. An unchanged source
 * then costs no lock file, no state write. Anything else — a change, an error, an open circuit,
 * `--force` — goes the locked way, which decides again under the lock.
 */
async function unchangedWithoutLock(
  pair: PlannedPair,
  keys: { marker: string },
  algorithm: ChecksumAlgorithm,
  build: ResultBuilder,
  gate: GateTurn,
  context: JobContext,
): Promise<SourceResult | { prior: SyncError } | undefined> {
  if (context.options.force) return undefined;
  const marker = await context.store.readMarker(keys.marker);
  // Without a validator every check would be a full GET: leave those to the locked path.
  if (!marker || !hasValidators(marker.validators)) return undefined;
  if (pair.expected && pair.expected.hex !== marker.checksum) return undefined;
  if (!(await markerStillDescribes(marker, pair, algorithm))) return undefined;
  // A circuit that is not plainly closed has a probe to run: that is the locked path's job.
  if (!(await context.circuits.isClosed(pair.source.origin))) return undefined;
  const names = { source: pair.source.display, destination: pair.destination };
  context.logger.emit("info", "attempting download", {
    ...names,
    attempt: 1,
    max_attempts: context.options.maxAttempts,
    resume_from: 0,
  });
  const source = context.sourceFor(pair);
  let answer: "unchanged" | "changed";
  try {
    answer = await source.check(marker.validators, context.signal, "cheap");
  } catch (error) {
    if (context.signal.aborted) throw context.signal.reason;
    const failure = source.describeError(error);
    // A transient failure is the transfer's first attempt: the locked path retries from it.
    if (failure.retryable) return { prior: failure };
    // A permanent one (404 …) is final: one request, as for any transfer.
    logFailedAttempt(context.logger, names, 1, failure);
    context.logger.emit("error", "synchronization failed", {
      ...names,
      error_code: failure.code,
      reason: failure.message,
    });
    await reportToCircuit(
      pair,
      { error: failure, attempts: 1, bytes: 0, servedBy: source.servedBy?.() },
      false,
      gate,
      context,
    );
    return build.failed(failure, { attempts: 1, checksum: marker.checksum });
  }
  if (answer !== "unchanged") return undefined;
  await reportToCircuit(
    pair,
    {
      error: undefined,
      status: "unchanged",
      checksum: marker.checksum,
      bytes: 0,
      attempts: 1,
      servedBy: source.servedBy?.(),
    },
    false,
    gate,
    context,
  );
  context.logger.emit("info", "destination already up-to-date", {
    ...names,
    checksum: marker.checksum,
    reason: "source not modified",
  });
  return build.result({ status: "unchanged", checksum: marker.checksum, attempts: 1 });
}

function hasValidators(validators: Validators): boolean {
  return (
    validators.etag !== undefined ||
    validators.lastModified !== undefined ||
    (validators.size !== undefined && validators.mtimeMs !== undefined)
  );
}

interface GateTurn {
  turn: Turn;
  /** The gate's epoch when the latest attempt began: its success may prove the origin only if nothing failed since. */
  epoch: number;
}

/**
 * Tells the circuit what the transfer said about the origin that served it (the last hop of any
 * redirect). A transient failure (network, timeout, 5xx …) counts against it; any answer — success,
 * 404, a bad checksum — proves it alive; a local failure (disk full) says nothing, except that a
 * probe is void.
 */
async function reportToCircuit(
  pair: PlannedPair,
  outcome: Served,
  probe: boolean,
  gate: GateTurn,
  context: JobContext,
) {
  const { error } = outcome;
  const { display } = pair.source;
  const origin = outcome.servedBy ?? pair.source.origin;
  if (
    !error ||
    ORIGIN_ANSWERED.has(error.code) ||
    (error.code === "http_error" && !error.retryable)
  ) {
    // A redirect's target was not what the attempt's epoch was taken from: its proof counts as fresh.
    const since = origin === pair.source.origin ? gate.epoch : context.gate.epoch(origin);
    context.gate.prove(origin, "finished", since);
    await context.circuits.succeeded(origin, display);
    // A redirect that led to a working origin speaks for the first one too.
    if (origin !== pair.source.origin)
      await context.circuits.succeeded(pair.source.origin, display);
  } else if (isOriginFailure(error)) {
    await context.circuits.failed(origin, display);
    if (probe && origin !== pair.source.origin)
      await context.circuits.abandonProbe(pair.source.origin);
  } else if (probe) {
    await context.circuits.abandonProbe(pair.source.origin);
  }
}

const ORIGIN_ANSWERED = new Set<string>(["not_found", "checksum_mismatch"]);
const ORIGIN_FAILED = new Set<string>(["network", "timeout", "http_error"]);

function isOriginFailure(error: SyncError): boolean {
  return error.retryable && ORIGIN_FAILED.has(error.code);
}

/** The result of a pair the plan refused (an unsafe name …): logged, failed, nothing touched. */
export function refusedPair(
  pair: PlannedPair,
  error: SyncError,
  context: JobContext,
): SourceResult {
  context.logger.emit("error", "synchronization failed", {
    source: pair.source.display,
    destination: pair.destination,
    error_code: error.code,
    reason: error.message,
  });
  return new ResultBuilder(pair, algorithmOf(pair, context.options), context.clock).failed(error);
}

/** Logs one failed attempt with its real cause. */
function logFailedAttempt(
  logger: Logger,
  names: { source: string; destination: string },
  attempt: number,
  failure: SyncError,
): void {
  logger.emit("warning", "download failed", {
    ...names,
    attempt,
    error_code: failure.code,
    reason: failure.message,
    retryable: failure.retryable,
    ...(failure.status === undefined ? {} : { status: failure.status }),
  });
}

export function circuitOpenError(pair: PlannedPair, retryInMs: number): SyncError {
  const seconds = Math.ceil(retryInMs / 1000);
  return new SyncError(
    "circuit_open",
    `circuit breaker open for ${pair.source.origin}; retry in ${seconds} s`,
  );
}

async function takeLock(
  key: string,
  pair: PlannedPair,
  context: JobContext,
): Promise<Lock | undefined> {
  const immediate = await context.store.acquireLock(key, { waitMs: 0, signal: context.signal });
  if (immediate || context.options.waitLockMs <= 0) return immediate;
  context.logger.emit("info", "waiting for lock", {
    source: pair.source.display,
    destination: pair.destination,
    lock: key,
    wait_seconds: context.options.waitLockMs / 1000,
  });
  return context.store.acquireLock(key, {
    waitMs: context.options.waitLockMs,
    signal: context.signal,
  });
}

type Outcome =
  | {
      error: undefined;
      status: "synced" | "unchanged";
      checksum: string;
      bytes: number;
      attempts: number;
    }
  | { error: SyncError; attempts: number; bytes: number };

type Served = Outcome & { servedBy: string | undefined };

/** The transfer, and which origin finally served it (the last hop of any redirect). */
async function transferAndCommit(
  pair: PlannedPair,
  keys: { marker: string; destination: string },
  algorithm: ChecksumAlgorithm,
  probe: boolean,
  gate: GateTurn,
  context: JobContext,
  prior?: SyncError,
): Promise<Served> {
  const source = context.sourceFor(pair);
  const outcome = await transferWith(source, pair, keys, algorithm, probe, gate, context, prior);
  return { ...outcome, servedBy: source.servedBy?.() };
}

async function transferWith(
  source: Source,
  pair: PlannedPair,
  keys: { marker: string; destination: string },
  algorithm: ChecksumAlgorithm,
  probe: boolean,
  gate: GateTurn,
  context: JobContext,
  prior?: SyncError,
): Promise<Outcome> {
  const { options, logger, store } = context;
  const names = { source: pair.source.display, destination: pair.destination };
  let destination: DestinationInfo;
  try {
    destination = await prepareDestination(pair.destination);
  } catch (error) {
    logger.emit("error", "synchronization failed", {
      ...names,
      error_code: "write_error",
      reason: (error as Error).message,
    });
    return { error: error as SyncError, attempts: 0, bytes: 0 };
  }

  const marker = await store.readMarker(keys.marker);
  const intact = describes(marker, pair, algorithm, destination);
  const expectedMatchesMarker = !pair.expected || pair.expected.hex === marker?.checksum;
  const unchangedIf =
    !options.force && intact && expectedMatchesMarker ? marker?.validators : undefined;

  let bytes = 0;
  const attemptContext: AttemptContext = {
    source,
    sourceId: pair.source.display,
    store,
    stateKey: keys.destination,
    partPath: partPathFor(pair.destination),
    algorithm,
    signal: context.signal,
    onAttempt: (resumeFrom) => {
      logger.emit("info", "attempting download", {
        ...names,
        attempt: attemptNumber,
        max_attempts: maxAttempts,
        resume_from: resumeFrom,
      });
    },
    onOpened: () => {
      const servedBy = source.servedBy?.() ?? pair.source.origin;
      const since = servedBy === pair.source.origin ? gate.epoch : context.gate.epoch(servedBy);
      context.gate.prove(servedBy, "answered", since);
    },
    onBytes: (chunk, received, total) => {
      // Counts what arrived even in attempts that fail: it was transferred in this run.
      bytes += chunk;
      context.onProgress?.({
        type: "bytes",
        source: names.source,
        destination: names.destination,
        chunk,
        received,
        total,
      });
    },
  };
  if (options.force) await forgetPart(attemptContext);

  const maxAttempts = probe ? 1 : options.maxAttempts;
  let attemptStartedAt = 0;
  let attemptNumber = 0;
  const outcome = await withRetry(
    async (attempt) => {
      attemptNumber = attempt;
      if (attempt > 1 && !gate.turn.held && !context.gate.isProven(pair.source.origin)) {
        // The origin turned suspect: queue for a turn instead of retrying alongside everyone else.
        gate.turn.leave();
        gate.turn = await context.gate.enter(pair.source.origin, context.signal);
      }
      if (attempt > 1) {
        // Another transfer may have opened the circuit meanwhile: stop spending retries on a dead origin.
        const refusedFor = await context.circuits.refusesFor(pair.source.origin);
        if (refusedFor > 0) throw circuitOpenError(pair, refusedFor);
      }
      attemptStartedAt = context.clock.monotonic();
      gate.epoch = context.gate.epoch(pair.source.origin);
      return attemptTransfer(attemptContext, unchangedIf);
    },
    {
      maxAttempts,
      ...(prior && !probe ? { prior: { attempts: 1, error: prior } } : {}),
      isRetryable: (error) => error instanceof SyncError && error.retryable,
      delayMs: (attempt, error) => {
        const retryAfter = error instanceof SyncError ? error.retryAfterMs : undefined;
        return Math.round(
          (retryAfter ?? backoffDelayMs(attempt, context.random)) * options.delayScale,
        );
      },
      sleep: (ms, signal) => context.clock.sleep(ms, signal),
      signal: context.signal,
      onFailure: ({ attempt, error, delayMs }) => {
        const failure = asSyncError(error);
        if (isOriginFailure(failure))
          context.gate.suspect(source.servedBy?.() ?? pair.source.origin);
        logFailedAttempt(logger, names, attempt, failure);
        if (delayMs !== undefined) {
          logger.emit("info", "sleeping before retry", {
            ...names,
            attempt,
            next_attempt: attempt + 1,
            delay_ms: delayMs,
            retry_after_ms: failure.retryAfterMs ?? null,
          });
        }
      },
    },
  );

  if (!outcome.ok) {
    const failure = asSyncError(outcome.error);
    if (failure.code === "write_error") await forgetPart(attemptContext).catch(() => {});
    const fields = {
      ...names,
      error_code: failure.code,
      reason: failure.message,
      ...(failure.status === undefined ? {} : { status: failure.status }),
    };
    if (outcome.exhausted)
      logger.emit("error", "exhausted retries", { ...fields, attempts: outcome.attempts });
    else logger.emit("error", "synchronization failed", fields);
    return { error: failure, attempts: outcome.attempts, bytes };
  }

  const attempts = outcome.attempts;
  const fetched = outcome.value;
  if (fetched.kind === "not-modified") {
    logger.emit("info", "destination already up-to-date", {
      ...names,
      checksum: marker?.checksum ?? null,
      reason: "source not modified",
    });
    return {
      error: undefined,
      status: "unchanged",
      checksum: marker?.checksum ?? "",
      bytes: 0,
      attempts,
    };
  }

  logger.emit("info", "download successful", {
    ...names,
    attempt: attempts,
    bytes: fetched.received,
    duration_ms: Math.round(context.clock.monotonic() - attemptStartedAt),
    resumed_from: fetched.resumedFrom,
    verified_by: fetched.verifiedBy,
  });

  if (pair.expected && pair.expected.hex !== fetched.checksum) {
    logger.emit("error", "checksum mismatch", {
      ...names,
      algorithm,
      expected: pair.expected.hex,
      actual: fetched.checksum,
    });
    await forgetPart(attemptContext);
    const error = new SyncError(
      "checksum_mismatch",
      `${algorithm} of ${pair.source.display} is ${fetched.checksum}, expected ${pair.expected.hex}`,
    );
    return { error, attempts, bytes };
  }

  const record = (info: { size: number; mtimeMs: number; ino: number }): Marker => ({
    // The redacted URL: state files never hold credentials, and a re-signed URL is the same source.
    source: pair.source.display,
    destination: pair.destination,
    validators: fetched.validators,
    algorithm,
    checksum: fetched.checksum,
    destinationSize: info.size,
    destinationMtimeMs: info.mtimeMs,
    destinationIno: info.ino,
    syncedAt: new Date(context.clock.now()).toISOString(),
  });

  // Same bytes as the intact destination (a server without validators, or --force): leave it be.
  if (intact && marker?.checksum === fetched.checksum) {
    await forgetPart(attemptContext);
    await store.writeMarker(keys.marker, record(await stat(pair.destination)));
    logger.emit("info", "destination already up-to-date", {
      ...names,
      checksum: fetched.checksum,
      reason: "content unchanged",
    });
    return { error: undefined, status: "unchanged", checksum: fetched.checksum, bytes, attempts };
  }

  try {
    await context.failpoint("before-rename");
    await commitPart(attemptContext.partPath, pair.destination, context.dirtyFolders);
    await context.failpoint("after-rename");
  } catch (error) {
    await forgetPart(attemptContext).catch(() => {});
    logger.emit("error", "synchronization failed", {
      ...names,
      error_code: "write_error",
      reason: (error as Error).message,
    });
    return { error: error as SyncError, attempts, bytes };
  }
  await store.deletePartial(keys.destination);
  await store.writeMarker(keys.marker, record(await stat(pair.destination)));
  logger.emit("info", "updated destination", {
    ...names,
    checksum: fetched.checksum,
    algorithm,
    bytes: fetched.size,
  });
  return { error: undefined, status: "synced", checksum: fetched.checksum, bytes, attempts };
}

function asSyncError(error: unknown): SyncError {
  if (error instanceof SyncError) return error;
  return new SyncError("network", error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}

/** `describes`, stat-ing the destination first. */
export async function markerStillDescribes(
  marker: Marker | undefined,
  pair: PlannedPair,
  algorithm: string,
): Promise<boolean> {
  return describes(marker, pair, algorithm, await stat(pair.destination).catch(() => undefined));
}

/** Whether the marker still describes the destination on disk (not edited, replaced or deleted by hand). */
function describes(
  marker: Marker | undefined,
  pair: PlannedPair,
  algorithm: string,
  info: DestinationInfo,
): boolean {
  if (!marker || marker.source !== pair.source.display || marker.algorithm !== algorithm)
    return false;
  if (!info?.isFile()) return false;
  return (
    info.size === marker.destinationSize &&
    info.mtimeMs === marker.destinationMtimeMs &&
    info.ino === marker.destinationIno
  );
}

/** The destination's digest after a failed run: the marker's when it still holds, else computed; null when absent. */
async function currentChecksum(
  key: string,
  pair: PlannedPair,
  algorithm: ChecksumAlgorithm,
  context: JobContext,
): Promise<string | null> {
  const marker = await context.store.readMarker(key);
  if (marker && (await markerStillDescribes(marker, pair, algorithm))) return marker.checksum;
  const info = await stat(pair.destination).catch(() => undefined);
  if (!info?.isFile()) return null;
  return hashFile(pair.destination, algorithm).catch(() => null);
}
