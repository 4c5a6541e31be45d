/**
 * A destination whose metadata changed since its sync — a `chmod`, `chown` or new hard link
 * changes its ctime, a `touch` its mtime — no longer matches its marker's fingerprint, and was
 * then fetched whole, without a conditional request (a `chmod -R g+r` of a mirror re-downloaded
 * all of it). The marker's checksum can still vouch for it: when the file hashes to it, read with
 * the file held still (`Destination.verifiedDigest`: this user's own file, flushed, the same
 * before and after the read, and still the one at the destination's name), the bytes are
 * the ones synced and the marker's validators apply again. A file edited by hand hashes to
 * something else and is fetched as before; another user's file is never vouched for.
 */
import type { Fingerprint } from "../destinations/destination.js";
import { sourceIdentity } from "../sources/identity.js";
import type { Marker } from "../state/store.js";
import { describes, type JobContext } from "./context.js";

/**
 * Whether `stored` may vouch again for the destination at `fingerprint`, read: it is this pair's
 * marker and no longer describes it, the size is the same (another size is other bytes), and no
 * `--force` or `--checksum` other than the marker's digest means a fetch anyway.
 */
export function vouchable(
  stored: Marker | undefined,
  judged: Pick<JobContext, "spec" | "algorithm">,
  fingerprint: Fingerprint | undefined,
): stored is Marker {
  const { spec, algorithm } = judged;
  if (spec.force || !stored || !fingerprint) return false;
  const described: boolean = describes(stored, judged, fingerprint);
  return (
    !described &&
    stored.source === sourceIdentity(spec.source) &&
    stored.algorithm === algorithm &&
    fingerprint.size === stored.destinationSize &&
    (spec.expected === undefined || spec.expected.hex === stored.checksum)
  );
}

/** The fingerprint `stored` vouches for, given the destination's `hashed` read: its digest's. */
export function vouchedAt(
  stored: Marker,
  hashed: { digest: string; at: Fingerprint } | undefined,
): Fingerprint | undefined {
  return hashed && hashed.digest === stored.checksum ? hashed.at : undefined;
}

/**
 * The destination's fingerprint when `stored` vouches for it again (see `vouchable`); the read is
 * kept in `context.hashed` (a failed pair reports that digest without a second read). The
 * origin's first-contact turn is let go during the read and taken again: a local read must not
 * hold up other transfers to the origin.
 */
export async function revouch(
  stored: Marker | undefined,
  context: JobContext,
  fingerprint: Fingerprint | undefined,
): Promise<Fingerprint | undefined> {
  const { spec, destination, runtime, signal } = context;
  if (!destination.verifiedDigest || !vouchable(stored, context, fingerprint)) return undefined;
  const held = context.gate.turn.held;
  if (held) context.gate.turn.leave();
  try {
    context.hashed = await destination.verifiedDigest(context.algorithm, signal);
  } finally {
    if (held) context.gate.turn = await runtime.health.enter(spec.source.origin, signal);
  }
  return vouchedAt(stored, context.hashed);
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
