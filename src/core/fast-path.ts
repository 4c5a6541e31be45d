/**
 * The no-op fast path: when the destination still matches its marker, ask the source whether it
 * changed (a conditional GET answered 304; for files, a stat) before taking any lease. An
 * unchanged source then costs no lock, no state write. Anything else — a change, an error, an
 * open circuit, `--force` — goes the leased way, which decides again under the lease.
 */
import type { SyncError } from "../errors.js";
import { takes } from "../log/events.js";
import type { OpenResult, Validators } from "../sources/source.js";
import { HandOver } from "./attempt.js";
import { describes, type JobContext, logFailedAttempt, reportHealth } from "./context.js";
import type { SourceResult } from "./result.js";

/**
 * A final result; `{ prior }` when the check failed transiently (the leased path retries from
 * it); `{ handOver }` when the source changed (its body, for the leased path's first attempt: one
 * GET per changed source); `undefined` to go on.
 */
export async function unchangedWithoutLease(
  context: JobContext,
): Promise<SourceResult | { prior: SyncError } | { handOver: HandOver } | undefined> {
  const { spec, runtime, names, build } = context;
  if (spec.force) return undefined;
  const marker = await runtime.store.readMarker(context.keys.marker);
  // Without a validator every check would be a full GET: leave those to the leased path.
  if (!marker || !hasValidators(marker.validators)) return undefined;
  if (spec.expected && spec.expected.hex !== marker.checksum) return undefined;
  if (!describes(marker, context, await context.destination.fingerprint())) return undefined;
  // A killed run left its lock or a part record: the leased way clears them, even if unchanged.
  if (runtime.store.hasLeftovers?.(context.keys.destination)) return undefined;
  // A circuit that is not plainly closed has a probe to run: that is the leased path's job.
  if (!(await runtime.health.circuits.isClosed(spec.source.origin))) return undefined;
  // At --quiet nobody takes a pair's info lines: none is built.
  const info = takes(runtime.logger, "info");
  if (info)
    runtime.logger.emit("info", "attempting download", {
      ...names,
      attempt: 1,
      max_attempts: spec.maxAttempts,
      resume_from: 0,
    });
  const source = runtime.sources.open(spec.source);
  const { gate } = runtime.health;
  const origin = spec.source.origin;
  // An origin that asked to slow down is asked at its pace, even just to check.
  const wait = gate.reserveStart(origin, runtime.clock.monotonic());
  if (wait > 0)
    await runtime.clock.sleep(wait * (runtime.testHooks?.delayScale ?? 1), context.signal);
  let answer: OpenResult;
  try {
    answer = await source.open({
      offset: 0,
      resumeIf: undefined,
      unchangedIf: marker.validators,
      signal: context.signal,
    });
    gate.accepted(origin);
  } catch (error) {
    if (context.signal.aborted) throw context.signal.reason;
    const failure = source.describeError(error);
    // A "slow down" is the leased path's first failed attempt: its retry slows the pace.
    // A transient failure is the transfer's first attempt: the leased path retries from it.
    if (failure.retryable) return { prior: failure };
    // A permanent one (404 …) is final: one request, as for any transfer.
    logFailedAttempt(runtime.logger, names, 1, failure);
    runtime.logger.emit("error", "synchronization failed", {
      ...names,
      error_code: failure.code,
      reason: failure.message,
    });
    await reportHealth(context, source.servedBy?.(), failure, false);
    return build.failed(failure, { attempts: 1, checksum: marker.checksum });
  }
  if (answer.kind === "body") return { handOver: new HandOver(answer, marker.checksum) };
  await reportHealth(context, source.servedBy?.(), undefined, false);
  if (info)
    runtime.logger.emit("info", "destination already up-to-date", {
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
