/**
 * `runJob`: one source/destination pair end to end —
 * fast path (no lease) → lease → admit → attempts → verify → commit → record — and one result.
 *
 * The core touches the world only through the `Runtime` it is given: no filesystem, no HTTP
 * client, no concrete store is imported here (a test reads the imports).
 */
import { hash } from "node:crypto";
import { eitherSignal } from "../clock.js";
import type { Destination } from "../destinations/destination.js";
import { SyncError } from "../errors.js";
import type { Turn } from "../health/origin-health.js";
import { type Lease, LeaseLostError } from "../state/store.js";
import type { HandOver } from "./attempt.js";
import {
  asSyncError,
  circuitOpenError,
  currentChecksum,
  describes,
  isDeadline,
  type JobContext,
  reportHealth,
} from "./context.js";
import { unchangedWithoutLease } from "./fast-path.js";
import { algorithmOf, ResultBuilder, type SourceResult } from "./result.js";
import type { Runtime } from "./runtime.js";
import type { JobSpec } from "./spec.js";
import { transferUnderLease } from "./transfer.js";

/** The state key of a pair's marker: one per source and destination (however it is spelled). */
export function markerKey(source: string, destinationId: string): string {
  // One-shot SHA-256: computed for every pair of every run, no-op runs included.
  return `pair:${hash("sha256", `${source}\0${destinationId}`, "hex").slice(0, 32)}`;
}

/**
 * Syncs one pair and resolves to its result. Rejects only when `signal` aborts for another
 * reason than the run's deadline (a `SyncError` with code `deadline`, which fails the pair): the
 * lease is released and no partial destination is left either way. `turn`: a turn at the
 * origin's gate already taken by the caller's scheduler.
 */
export async function runJob(
  spec: JobSpec,
  runtime: Runtime,
  signal: AbortSignal,
  turn?: Turn,
): Promise<SourceResult> {
  const build = new ResultBuilder(spec, runtime.clock);
  const names = { source: spec.source.display, destination: spec.destination };
  if (spec.invalid) {
    turn?.leave();
    return refuse(spec, runtime, new SyncError(spec.invalid.code, spec.invalid.message));
  }
  let destination: Destination;
  try {
    destination = await runtime.destinations.open(
      spec.destination,
      spec.destinationWithin,
      spec.folderModes,
    );
  } catch (error) {
    turn?.leave();
    return refuse(spec, runtime, asSyncError(error));
  }
  const context: JobContext = {
    spec,
    runtime,
    destination,
    algorithm: algorithmOf(spec),
    build,
    names,
    keys: { marker: markerKey(spec.source.display, destination.id), destination: destination.id },
    gate: { turn: turn ?? (await runtime.health.enter(spec.source.origin, signal)), epoch: 0 },
    signal,
    spent: { attempts: 0, bytes: 0 },
  };
  context.gate.epoch = runtime.health.gate.epoch(spec.source.origin);
  let lease: Lease | undefined;
  let probing = false;
  let handOver: HandOver | undefined;
  let detach: (() => void) | undefined;
  try {
    const quick = await unchangedWithoutLease(context);
    if (quick && "handOver" in quick) handOver = quick.handOver;
    else if (quick && !("prior" in quick)) return quick;
    // The folder first: the lease of a local destination lives beside it.
    const unwritable = await prepare(context);
    if (unwritable) return unwritable;
    lease = await takeLease(context);
    if (!lease) return await busy(context);
    destination.verifyWay?.();
    await runtime.testHooks?.failpoint?.("after-lock");
    const { origin } = spec.source;
    const admission = await runtime.health.circuits.admit(origin, names.source, signal);
    if (admission.decision === "reject") {
      return build.failed(circuitOpenError(origin, admission.retryInMs), {
        checksum: await currentChecksum(context),
      });
    }
    probing = admission.decision === "probe";
    // A lost lease stops the job as an interruption would: no commit, no marker.
    const either = eitherSignal(signal, lease.lost);
    detach = either.dispose;
    const leased = { ...context, signal: either.signal };
    const prior = quick && "prior" in quick ? quick.prior : undefined;
    const outcome = await transferUnderLease(leased, lease, probing, prior, handOver);
    await reportHealth(context, outcome.servedBy, outcome.error, probing);
    probing = false;
    if (outcome.error) {
      return build.failed(outcome.error, {
        attempts: outcome.attempts,
        bytes: outcome.bytes,
        checksum: await currentChecksum(context),
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
    if (probing) await runtime.health.circuits.abandonProbe(spec.source.origin).catch(() => {});
    const lost = lease?.lost.aborted && !signal.aborted ? lease.lost.reason : undefined;
    if (lost instanceof LeaseLostError || error instanceof LeaseLostError) {
      const reason = (lost ?? error) as LeaseLostError;
      runtime.logger.emit("warning", "lock lost", {
        ...names,
        lock: reason.key,
        reason: reason.message,
      });
      return await afterLostLease(context, reason);
    }
    if (signal.aborted && !isDeadline(signal.reason)) throw error;
    // The deadline, or a fault outside the transfer (the state store failing …): this pair fails, the batch goes on.
    const failure = signal.aborted
      ? (signal.reason as SyncError)
      : new SyncError("write_error", error instanceof Error ? error.message : String(error), {
          // A lease the store could not confirm is why the transfer stopped, whatever it threw.
          cause: lost ?? error,
        });
    runtime.logger.emit("error", "synchronization failed", {
      ...names,
      error_code: failure.code,
      reason: failure.message,
    });
    return build.failed(failure, {
      ...context.spent,
      checksum: await currentChecksum(context).catch(() => null),
    });
  } finally {
    // A changed source's body that no attempt took (busy, refused …): its connection is closed.
    handOver?.discard();
    detach?.();
    context.gate.turn.leave();
    await lease?.release();
  }
}

/**
 * The result of a pair whose lease was lost: `skipped` when another run took it over (that run,
 * or one after it, is responsible for the destination, as when it was busy from the start), with
 * the checksum of what is there when the marker still vouches for it. When nobody took it — it
 * lapsed while this process was paused, or the store lost it (a Redis restarted without
 * persistence) — nothing was committed and nobody is syncing the destination: `failed`, so that
 * it is seen and run again, never reported as if another run had taken care of it.
 */
async function afterLostLease(context: JobContext, reason: LeaseLostError): Promise<SourceResult> {
  const { runtime, build, names } = context;
  if (reason.takenOver) {
    const marker = await runtime.store.readMarker(context.keys.marker).catch(() => undefined);
    const now = await context.destination.fingerprint().catch(() => undefined);
    const checksum = describes(marker, context, now) ? marker.checksum : null;
    return build.result({ status: "skipped", checksum });
  }
  const failure = new SyncError(
    "write_error",
    `the lock of ${names.destination} was lost (${reason.message}): nothing was committed`,
    { cause: reason },
  );
  runtime.logger.emit("error", "synchronization failed", {
    ...names,
    error_code: failure.code,
    reason: failure.message,
  });
  return build.failed(failure, { checksum: await currentChecksum(context).catch(() => null) });
}

/** The result of a pair refused before any work (an unsafe name …): logged, failed, nothing touched. */
function refuse(spec: JobSpec, runtime: Runtime, error: SyncError): SourceResult {
  runtime.logger.emit("error", "synchronization failed", {
    source: spec.source.display,
    destination: spec.destination,
    error_code: error.code,
    reason: error.message,
  });
  return new ResultBuilder(spec, runtime.clock).failed(error);
}

/** Makes the destination writable; a failed result when it cannot be. */
async function prepare(context: JobContext): Promise<SourceResult | undefined> {
  try {
    await context.destination.prepare();
    return undefined;
  } catch (error) {
    const failure = asSyncError(error);
    context.runtime.logger.emit("error", "synchronization failed", {
      ...context.names,
      error_code: failure.code,
      reason: failure.message,
    });
    return context.build.failed(failure, { checksum: await currentChecksum(context) });
  }
}

async function takeLease(context: JobContext): Promise<Lease | undefined> {
  const { runtime, spec, keys, signal } = context;
  const ttlMs = runtime.leaseTtlMs;
  // The lock of a local destination is a file in its folder: never made through a folder that
  // became a link since `prepare`.
  const guard = () => context.destination.verifyWay?.();
  const immediate = await runtime.store.acquire(keys.destination, {
    ttlMs,
    waitMs: 0,
    signal,
    guard,
  });
  if (immediate || spec.waitLockMs <= 0) return immediate;
  runtime.logger.emit("info", "waiting for lock", {
    ...context.names,
    lock: keys.destination,
    wait_seconds: spec.waitLockMs / 1000,
  });
  return runtime.store.acquire(keys.destination, {
    ttlMs,
    waitMs: spec.waitLockMs,
    signal,
    guard,
  });
}

/** Another run holds the destination: skipped, with the checksum of what is there if the marker still vouches for it. */
async function busy(context: JobContext): Promise<SourceResult> {
  context.runtime.logger.emit("info", "another synchronization is in progress", {
    ...context.names,
    lock: context.keys.destination,
  });
  const marker = await context.runtime.store.readMarker(context.keys.marker);
  const intact = describes(marker, context, await context.destination.fingerprint());
  return context.build.result({ status: "skipped", checksum: intact ? marker.checksum : null });
}
