/**
 * A destination whose metadata changed since its sync — a `chmod`, `chown` or new hard link
 * changes its ctime, a `touch` its mtime — no longer matches its marker's fingerprint, and was
 * then fetched whole, without a conditional request (a `chmod -R g+r` of a mirror re-downloaded
 * all of it). The marker's checksum can still vouch for it: when the file hashes to it, and its
 * fingerprint held still across the hash, the bytes are the ones synced and the marker's
 * validators apply again. A file edited by hand hashes to something else and is fetched as before.
 */
import type { Fingerprint } from "../destinations/destination.js";
import { sourceIdentity } from "../sources/identity.js";
import type { Marker } from "../state/store.js";
import type { JobContext } from "./context.js";

/**
 * The destination's fingerprint now, when its content is still what `marker` records (read
 * only; the hash costs one read of the file); undefined when it is not, or cannot be told.
 */
export async function revouch(
  marker: Marker | undefined,
  context: Pick<JobContext, "spec" | "algorithm" | "destination" | "signal">,
): Promise<Fingerprint | undefined> {
  const { destination, spec, algorithm, signal } = context;
  if (!marker || marker.source !== sourceIdentity(spec.source) || marker.algorithm !== algorithm)
    return undefined;
  const before = await destination.fingerprint().catch(() => undefined);
  // Another size is other bytes: not worth a read.
  if (!before || before.size !== marker.destinationSize) return undefined;
  const digest = await destination.checksum(algorithm, signal).catch(() => null);
  if (digest !== marker.checksum) return undefined;
  const after = await destination.fingerprint().catch(() => undefined);
  return after && sameFile(before, after) ? after : undefined;
}

/** The marker of `marker`'s sync, describing the destination as it is now (`at`). */
export function markerAt(marker: Marker, at: Fingerprint): Marker {
  return {
    ...marker,
    destinationSize: at.size,
    destinationMtimeMs: at.mtimeMs,
    destinationCtimeMs: at.ctimeMs,
    destinationIno: at.ino,
  };
}

function sameFile(a: Fingerprint, b: Fingerprint): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}
