/** What every step of one job shares: the spec, the runtime, the destination, names for logs. */
import type { ChecksumAlgorithm } from "../checksums/digest.js";
import { type Destination, type Fingerprint, sameFile } from "../destinations/destination.js";
import { SyncError } from "../errors.js";
import type { Turn } from "../health/origin-health.js";
import { type Logger, takes } from "../log/events.js";
import { sourceIdentity } from "../sources/identity.js";
import { type Lease, LeaseLostError, type Marker, StaleFenceError } from "../state/store.js";
import type { ResultBuilder } from "./result.js";
import type { Runtime } from "./runtime.js";
import type { JobSpec } from "./spec.js";

export interface JobContext {
  spec: JobSpec;
  runtime: Runtime;
  destination: Destination;
  algorithm: ChecksumAlgorithm;
  build: ResultBuilder;
  names: { source: string; destination: string };
  /** State keys: the pair's marker, and the destination's lease and part record. */
  keys: { marker: string; destination: string };
  /** The gate turn held, and the gate epoch when the latest attempt began. */
  gate: { turn: Turn; epoch: number };
  /** The caller's signal (the run's abort and deadline); a held lease adds its own. */
  signal: AbortSignal;
  /** The attempts made and body bytes received so far: a result the deadline cuts short says them. */
  spent: { attempts: number; bytes: number };
  /** The destination's digest as read during this job, and the file it was read from. */
  hashed?: { digest: string; at: Fingerprint };
}

/**
 * Runs a fenced state write. A refused fence means the lease is gone: the lease's own check says
 * so (and aborts its `lost` signal), and the write fails as `LeaseLostError`. Other errors pass.
 */
export async function underFence<T>(lease: Lease, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!(error instanceof StaleFenceError)) throw error;
    await lease.check();
    throw new LeaseLostError(lease.key, error.message);
  }
}

/** Whether `reason` (a signal's) is the run's deadline rather than an interruption. */
export function isDeadline(reason: unknown): reason is SyncError {
  return reason instanceof SyncError && reason.code === "deadline";
}

/** Any thrown value as a `SyncError` (unknown ones as transient network errors). */
export function asSyncError(error: unknown): SyncError {
  if (error instanceof SyncError) return error;
  return new SyncError("network", error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}

export function circuitOpenError(origin: string, retryInMs: number): SyncError {
  const seconds = Math.ceil(retryInMs / 1000);
  return new SyncError("circuit_open", `circuit breaker open for ${origin}; retry in ${seconds} s`);
}

/**
 * Logs one failed attempt with its real cause, then, when another follows after `delayMs`, the
 * wait (an info line, built only for a logger that takes info).
 */
export function logFailedAttemptAndWait(
  logger: Logger,
  names: { source: string; destination: string },
  attempt: number,
  failure: SyncError,
  delayMs: number | undefined,
): void {
  logFailedAttempt(logger, names, attempt, failure);
  if (delayMs === undefined || !takes(logger, "info")) return;
  logger.emit("info", "sleeping before retry", {
    ...names,
    attempt,
    next_attempt: attempt + 1,
    delay_ms: delayMs,
    retry_after_ms: failure.retryAfterMs ?? null,
  });
}

/** Logs one failed attempt with its real cause. */
export function logFailedAttempt(
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

/** Whether the marker still describes the destination on disk (not edited, replaced or deleted by hand). */
export function describes(
  marker: Marker | undefined,
  context: Pick<JobContext, "spec" | "algorithm">,
  fingerprint: Fingerprint | undefined,
): marker is Marker {
  if (!marker || marker.source !== sourceIdentity(context.spec.source)) return false;
  if (marker.algorithm !== context.algorithm || !fingerprint) return false;
  return (
    fingerprint.size === marker.destinationSize &&
    fingerprint.mtimeMs === marker.destinationMtimeMs &&
    fingerprint.ctimeMs === marker.destinationCtimeMs &&
    fingerprint.ino === marker.destinationIno
  );
}

/** The destination's digest after a failed run: the marker's when it still holds, else computed (null when cut short). */
export async function currentChecksum(context: JobContext): Promise<string | null> {
  const { store } = context.runtime;
  const marker = await store.readMarker(context.keys.marker).catch(() => undefined);
  const now = await context.destination.fingerprint().catch(() => undefined);
  if (describes(marker, context, now)) return marker.checksum;
  // Read already (a marker that could not vouch for it): not read twice.
  if (now && context.hashed && sameFile(now, context.hashed.at)) return context.hashed.digest;
  return context.destination.checksum(context.algorithm, context.signal);
}

/**
 * Tells origin health what the transfer said. Its state writes may fail (a full lock dir): that
 * is a warning, never the pair's failure — the destination may already have been replaced.
 */
export async function reportHealth(
  context: JobContext,
  servedBy: string | undefined,
  error: SyncError | undefined,
  probing: boolean,
): Promise<void> {
  const { spec, runtime, names } = context;
  try {
    await runtime.health.report(
      spec.source.origin,
      servedBy,
      error,
      probing,
      context.gate.epoch,
      names.source,
    );
  } catch (failure) {
    runtime.logger.emit("warning", "state not recorded", {
      ...names,
      reason: `circuit state of ${spec.source.origin}: ${failure instanceof Error ? failure.message : String(failure)}`,
    });
  }
}
