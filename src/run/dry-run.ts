/**
 * `--dry-run`: what a run would do, found out without writing anything — no lock, no marker, no
 * circuit change, no part file. An origin is asked at most one conditional HEAD per source.
 */
import { asSyncError, circuitOpenError, describes } from "../core/context.js";
import { markerKey } from "../core/job.js";
import { algorithmOf, ResultBuilder, type SourceResult } from "../core/result.js";
import { markerAt, vouchable, vouchedAt } from "../core/revouch.js";
import type { Runtime } from "../core/runtime.js";
import type { JobSpec } from "../core/spec.js";
import { type Destination, sameFile } from "../destinations/destination.js";
import { SyncError } from "../errors.js";
import type { Turn } from "../health/origin-health.js";

export async function planJob(
  spec: JobSpec,
  runtime: Runtime,
  signal: AbortSignal,
  turn?: Turn,
): Promise<SourceResult> {
  try {
    return await planOne(spec, runtime, signal);
  } finally {
    turn?.leave();
  }
}

async function planOne(
  spec: JobSpec,
  runtime: Runtime,
  signal: AbortSignal,
): Promise<SourceResult> {
  const build = new ResultBuilder(spec, runtime.clock);
  const names = { source: spec.source.display, destination: spec.destination };
  const fail = (failure: SyncError, fields: Partial<SourceResult> = {}) => {
    runtime.logger.emit("error", "synchronization failed", {
      ...names,
      error_code: failure.code,
      reason: failure.message,
    });
    return build.failed(failure, fields);
  };
  if (spec.invalid) return fail(new SyncError(spec.invalid.code, spec.invalid.message));
  let destination: Destination;
  try {
    destination = await runtime.destinations.open(
      spec.destination,
      spec.destinationWithin,
      spec.folderModes,
    );
  } catch (error) {
    return fail(asSyncError(error)); // as a run refuses it (a link planted on the way …)
  }
  const stored = await runtime.store.readMarker(markerKey(spec.source.display, destination.id));
  const judged = { spec, algorithm: algorithmOf(spec) };
  const fingerprint = await destination.fingerprint();
  // As a run would: a destination whose metadata alone changed is vouched for by its hash.
  const hashed =
    destination.verifiedDigest && vouchable(stored, judged, fingerprint)
      ? await destination.verifiedDigest(judged.algorithm, signal, false)
      : undefined;
  const revouched = stored ? vouchedAt(stored, hashed) : undefined;
  const marker = stored && revouched ? markerAt(stored, revouched) : stored;
  const intact = describes(marker, judged, revouched ?? fingerprint);
  // A failed pair reports what is at its destination, as a run does: hashed when the marker
  // does not vouch for it (read only; nothing is written), and not twice.
  const checksumNow = async () => {
    if (intact) return marker.checksum;
    const now = await destination.fingerprint();
    if (hashed && now && sameFile(now, hashed.at)) return hashed.digest;
    return destination.checksum(algorithmOf(spec), signal).catch(() => null);
  };
  const refusedFor = await runtime.health.circuits.refusesFor(spec.source.origin);
  if (refusedFor > 0) {
    runtime.logger.emit("error", "circuit breaker open", {
      source: names.source,
      origin: spec.source.origin,
      seconds_until_retry: Math.ceil(refusedFor / 1000),
      consecutive_failures: 0,
    });
    return build.failed(circuitOpenError(spec.source.origin, refusedFor), {
      checksum: await checksumNow(),
    });
  }
  const wouldFetch = (reason: string): SourceResult => {
    runtime.logger.emit("info", "would fetch", { ...names, reason });
    return build.result({ status: "skipped", checksum: intact ? marker.checksum : null });
  };
  // Why the source would be fetched whatever it says; otherwise only a changed source would be.
  const reason = spec.force
    ? "--force"
    : !marker
      ? "never synced"
      : !intact
        ? "destination differs from the last sync"
        : spec.expected && spec.expected.hex !== marker.checksum
          ? "destination does not match --checksum"
          : undefined;
  // One request either way: it also tells a source that would fail (404 …) before any run does.
  const source = runtime.sources.open(spec.source);
  try {
    const answer = await source.check(
      reason === undefined ? marker?.validators : undefined,
      signal,
    );
    if (answer === "changed") return wouldFetch(reason ?? "source changed");
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    const failure = error instanceof SyncError ? error : source.describeError(error);
    return fail(failure, { checksum: await checksumNow(), attempts: 1 });
  }
  if (!marker) return wouldFetch("never synced");
  runtime.logger.emit("info", "destination already up-to-date", {
    ...names,
    checksum: marker.checksum,
    reason: "source not modified",
  });
  return build.result({ status: "unchanged", checksum: marker.checksum, attempts: 1 });
}
