/**
 * Under a held lease: the attempts (retry policy, origin gate, circuit), then verify, commit and
 * record. The commit is the last step that can fail: once the destination is replaced, a state
 * write that fails is a warning, never a failed pair.
 */

import { type Fingerprint, sameFile } from "../destinations/destination.js";
import { SyncError } from "../errors.js";
import { isOriginFailure } from "../health/origin-health.js";
import { takes } from "../log/events.js";
import { withRetry } from "../policies/retry.js";
import { sourceIdentity } from "../sources/identity.js";
import type { Validators } from "../sources/source.js";
import { type Lease, LeaseLostError, type Marker } from "../state/store.js";
import { type AttemptContext, attemptTransfer, type HandOver } from "./attempt.js";
import { commit, recordCommit, writeMarker } from "./commit.js";
import {
  asSyncError,
  circuitOpenError,
  describes,
  type JobContext,
  logFailedAttemptAndWait,
} from "./context.js";
import { PartKeeper } from "./parts.js";
import { FREE_ATTEMPTS, RetryBudget } from "./retry-budget.js";
import { markerAt, revouch } from "./revouch.js";
import { splitSettingsFor } from "./split-settings.js";

export type Outcome =
  | {
      error: undefined;
      status: "synced" | "unchanged";
      checksum: string;
      bytes: number;
      attempts: number;
    }
  | { error: SyncError; attempts: number; bytes: number };

/** The outcome, and which origin finally served it (the last hop of any redirect). */
export type Served = Outcome & { servedBy: string | undefined };

/** Transfers, verifies, commits and records one pair. `prior`: a failed first attempt made by the fast path. */
export async function transferUnderLease(
  context: JobContext,
  lease: Lease,
  probe: boolean,
  prior: SyncError | undefined,
  handOver?: HandOver,
): Promise<Served> {
  const source = context.runtime.sources.open(context.spec.source);
  const parts = new PartKeeper(context, lease);
  try {
    const outcome = await transfer(context, lease, parts, source, probe, prior, handOver);
    return { ...outcome, servedBy: source.servedBy?.() };
  } finally {
    // Whatever stopped the job, a part still open is closed and kept for a resume.
    await parts.keep();
  }
}

async function transfer(
  context: JobContext,
  lease: Lease,
  parts: PartKeeper,
  source: AttemptContext["source"],
  probe: boolean,
  prior: SyncError | undefined,
  handOver: HandOver | undefined,
): Promise<Outcome> {
  const { spec, runtime, names, destination, signal } = context;
  const { logger, store, health } = runtime;
  // At --quiet nobody takes a pair's info lines: none is built.
  const info = takes(logger, "info");
  const stored = await store.readMarker(context.keys.marker);
  // Another run committed since the no-op check: its answer is stale, ask again.
  if (handOver && handOver.basis !== stored?.checksum) handOver.discard();
  const fingerprint = await destination.fingerprint();
  // A destination whose metadata alone changed (chmod, touch …) is vouched for again by its hash.
  const revouched = await revouch(stored, context, fingerprint);
  const marker = stored && revouched ? markerAt(stored, revouched) : stored;
  const intact = describes(marker, context, revouched ?? fingerprint);
  const expectedMatches = !spec.expected || spec.expected.hex === marker?.checksum;
  const unchangedIf: Validators | undefined =
    !spec.force && intact && expectedMatches ? marker.validators : undefined;
  if (spec.force) await parts.forget();

  let bytes = 0;
  let attemptNumber = 0;
  const attemptContext: AttemptContext = {
    source,
    parts,
    algorithm: context.algorithm,
    signal,
    onAttempt: (resumeFrom) => {
      if (info)
        logger.emit("info", "attempting download", {
          ...names,
          attempt: attemptNumber,
          max_attempts: maxAttempts,
          resume_from: resumeFrom,
        });
    },
    onOpened: () => {
      budget.answered();
      health.answered(spec.source.origin, source.servedBy?.(), context.gate.epoch);
    },
    display: spec.source.display,
    split: splitSettingsFor(context, probe ? 1 : spec.maxAttempts),
    ...(handOver ? { handOver } : {}),
    ...(runtime.limiter ? { limiter: runtime.limiter } : {}),
    ...(spec.maxFileBytes === undefined ? {} : { maxFileBytes: spec.maxFileBytes }),
    ...(destination.freeBytes
      ? { freeBytes: () => destination.freeBytes?.() ?? Promise.resolve(undefined) }
      : {}),
    onBytes: (chunk, received, total) => {
      // Counts what arrived even in attempts that fail: it was transferred in this run.
      bytes += chunk;
      context.spent.bytes += chunk;
      budget.received(chunk);
      runtime.onProgress?.({ type: "bytes", ...names, chunk, received, total });
    },
  };

  const maxAttempts = probe ? 1 : spec.maxAttempts;
  const budget = new RetryBudget({
    origin: spec.source.origin,
    gate: health.gate,
    now: () => runtime.clock.monotonic(),
    random: runtime.random,
    maxAttempts,
    retryMaxTimeMs: spec.retryMaxTimeMs,
    resumable: () => parts.validators !== undefined,
    delayScale: runtime.testHooks?.delayScale ?? 1,
    backoffFactor: runtime.backoffFactor ?? 1,
  });
  let attemptStartedAt = 0;
  const outcome = await withRetry(
    async (attempt) => {
      attemptNumber = attempt;
      context.spent.attempts = attempt;
      const origin = spec.source.origin;
      if (attempt > 1 && !context.gate.turn.held && !health.gate.isProven(origin)) {
        // The origin turned suspect: queue for a turn instead of retrying alongside everyone else.
        context.gate.turn.leave();
        context.gate.turn = await health.enter(origin, signal);
      }
      if (attempt > 1) {
        // Another transfer may have opened the circuit meanwhile: stop spending retries on a dead origin.
        const refusedFor = await health.circuits.refusesFor(origin);
        if (refusedFor > 0) throw circuitOpenError(origin, refusedFor);
      }
      // The origin asked everyone to slow down: keep its pace.
      const wait = budget.begin(attempt);
      if (wait > 0) await runtime.clock.sleep(wait, signal);
      attemptStartedAt = runtime.clock.monotonic();
      context.gate.epoch = health.gate.epoch(origin);
      const fetched = await attemptTransfer(attemptContext, unchangedIf);
      health.gate.accepted(origin);
      return fetched;
    },
    {
      maxAttempts,
      ...(prior && !probe ? { prior: { attempts: 1, error: prior } } : {}),
      isRetryable: (error) => error instanceof SyncError && error.retryable,
      charge: (error) => budget.charge(error),
      maxFreeAttempts: FREE_ATTEMPTS,
      mayRetry: () => budget.mayRetry(),
      delayMs: (attempt, error) => budget.delayMs(attempt, error),
      sleep: (ms, sleepSignal) => runtime.clock.sleep(ms, sleepSignal),
      signal,
      onFailure: ({ attempt, error, delayMs }) => {
        const failure = asSyncError(error);
        const served = source.servedBy?.() ?? spec.source.origin;
        // A last attempt answered "slow down" still slows the others (a retry did it in delayMs).
        if (failure.throttled && delayMs === undefined)
          health.gate.throttle(spec.source.origin, runtime.clock.monotonic(), failure.retryAfterMs);
        else if (isOriginFailure(failure)) health.gate.suspect(served);
        logFailedAttemptAndWait(logger, names, attempt, failure, delayMs);
      },
    },
  );

  if (!outcome.ok) {
    if (outcome.error instanceof LeaseLostError) throw outcome.error;
    const failure = budget.failure(asSyncError(outcome.error));
    if (failure.code === "write_error") await parts.discard().catch(() => {});
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
    // The marker describes the destination as it is now: the next run asks without a hash. Not
    // recorded (the state store failing), the next run hashes the file once more: no failure.
    if (revouched && marker) await writeMarker(context, lease, marker).catch(() => {});
    if (info)
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

  if (info)
    logger.emit("info", "download successful", {
      ...names,
      attempt: attempts,
      bytes: fetched.received,
      duration_ms: Math.round(runtime.clock.monotonic() - attemptStartedAt),
      resumed_from: fetched.resumedFrom,
      verified_by: fetched.verifiedBy,
    });

  if (spec.expected && spec.expected.hex !== fetched.checksum) {
    logger.emit("error", "checksum mismatch", {
      ...names,
      algorithm: context.algorithm,
      expected: spec.expected.hex,
      actual: fetched.checksum,
    });
    await parts.discard();
    const error = new SyncError(
      "checksum_mismatch",
      `${context.algorithm} of ${spec.source.display} is ${fetched.checksum}, expected ${spec.expected.hex}`,
    );
    return { error, attempts, bytes };
  }

  const record = (at: Fingerprint): Marker => ({
    // The redacted URL, with a digest where it hides what may choose the resource (identity.ts).
    source: sourceIdentity(spec.source),
    destination: spec.destination,
    validators: fetched.validators,
    algorithm: context.algorithm,
    checksum: fetched.checksum,
    destinationSize: at.size,
    destinationMtimeMs: at.mtimeMs,
    destinationCtimeMs: at.ctimeMs,
    destinationIno: at.ino,
    syncedAt: new Date(runtime.clock.now()).toISOString(),
  });

  // Same bytes as the intact destination (a server without validators, or --force): leave it be,
  // if it is still the file judged intact (one changed meanwhile would be recorded as it is).
  const current = await destination.fingerprint();
  const judged = revouched ?? fingerprint;
  if (
    intact &&
    current &&
    judged &&
    sameFile(current, judged) &&
    marker.checksum === fetched.checksum
  ) {
    await parts.discard();
    await writeMarker(context, lease, record(current));
    logger.emit("info", "destination already up-to-date", {
      ...names,
      checksum: fetched.checksum,
      reason: "content unchanged",
    });
    return { error: undefined, status: "unchanged", checksum: fetched.checksum, bytes, attempts };
  }

  const committed = await commit(context, lease, parts, fetched.mode);
  if (committed instanceof SyncError) return { error: committed, attempts, bytes };
  await recordCommit(context, lease, parts, record(committed), committed);
  if (info)
    logger.emit("info", "updated destination", {
      ...names,
      checksum: fetched.checksum,
      algorithm: context.algorithm,
      bytes: fetched.size,
    });
  return { error: undefined, status: "synced", checksum: fetched.checksum, bytes, attempts };
}
