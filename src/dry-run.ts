/**
 * `--dry-run`: what a run would do, found out without writing anything — no lock, no marker, no
 * circuit change, no part file. An origin is asked at most one conditional HEAD per source.
 */
import { SyncError } from "./errors.js";
import {
  algorithmOf,
  circuitOpenError,
  type JobContext,
  keysOf,
  markerStillDescribes,
  ResultBuilder,
  refusedPair,
} from "./job.js";
import type { PlannedPair } from "./plan.js";
import type { Turn } from "./policies/origin-gate.js";
import type { SourceResult } from "./report.js";

export async function planPair(
  pair: PlannedPair,
  context: JobContext,
  turn?: Turn,
): Promise<SourceResult> {
  try {
    return await planOne(pair, context);
  } finally {
    turn?.leave();
  }
}

async function planOne(pair: PlannedPair, context: JobContext): Promise<SourceResult> {
  const algorithm = algorithmOf(pair, context.options);
  const build = new ResultBuilder(pair, algorithm, context.clock);
  const names = { source: pair.source.display, destination: pair.destination };
  if (pair.invalid) return refusedPair(pair, pair.invalid, context);
  const refusedFor = await context.circuits.refusesFor(pair.source.origin);
  if (refusedFor > 0) {
    context.logger.emit("error", "circuit breaker open", {
      source: names.source,
      origin: pair.source.origin,
      seconds_until_retry: Math.ceil(refusedFor / 1000),
      consecutive_failures: 0,
    });
    return build.failed(circuitOpenError(pair, refusedFor));
  }

  const marker = await context.store.readMarker(keysOf(pair).marker);
  const intact = await markerStillDescribes(marker, pair, algorithm);
  const wouldFetch = (reason: string): SourceResult => {
    context.logger.emit("info", "would fetch", { ...names, reason });
    return build.result({
      status: "skipped",
      checksum: intact ? (marker?.checksum ?? null) : null,
    });
  };
  // Why the source would be fetched whatever it says; otherwise only a changed source would be.
  const reason = context.options.force
    ? "--force"
    : !marker
      ? "never synced"
      : !intact
        ? "destination differs from the last sync"
        : pair.expected && pair.expected.hex !== marker.checksum
          ? "destination does not match --checksum"
          : undefined;
  // One request either way: it also tells a source that would fail (404 …) before any run does.
  const source = context.sourceFor(pair);
  try {
    const answer = await source.check(
      reason === undefined ? marker?.validators : undefined,
      context.signal,
    );
    if (answer === "changed") return wouldFetch(reason ?? "source changed");
  } catch (error) {
    if (context.signal.aborted) throw context.signal.reason;
    const failure = error instanceof SyncError ? error : source.describeError(error);
    context.logger.emit("error", "synchronization failed", {
      ...names,
      error_code: failure.code,
      reason: failure.message,
    });
    return build.failed(failure, {
      checksum: intact ? (marker?.checksum ?? null) : null,
      attempts: 1,
    });
  }
  if (!marker) return wouldFetch("never synced");
  context.logger.emit("info", "destination already up-to-date", {
    ...names,
    checksum: marker.checksum,
    reason: "source not modified",
  });
  return build.result({ status: "unchanged", checksum: marker.checksum, attempts: 1 });
}
