/** The last steps of a job: put the part in place under the lease, then record it. */
import type { Fingerprint } from "../destinations/destination.js";
import { SyncError } from "../errors.js";
import { type Lease, LeaseLostError, type Marker } from "../state/store.js";
import { asSyncError, type JobContext, underFence } from "./context.js";
import type { PartKeeper } from "./parts.js";

/** Puts the part in place; a `SyncError` when that failed (the old destination stands). */
export async function commit(
  context: JobContext,
  lease: Lease,
  parts: PartKeeper,
  mode: number | undefined,
): Promise<Fingerprint | SyncError> {
  const failpoint = context.runtime.testHooks?.failpoint;
  const options = {
    ...(mode === undefined ? {} : { newFileMode: mode }),
    ...(failpoint ? { sealed: () => failpoint("part-sealed") } : {}),
  };
  const sink = parts.sink;
  if (!sink) return new SyncError("write_error", "the finished part file is gone");
  try {
    await failpoint?.("before-rename");
    const committed = await context.destination.commit(sink, lease, options);
    await failpoint?.("after-rename");
    return committed;
  } catch (error) {
    await parts.discard().catch(() => {});
    if (lease.lost.aborted) throw lease.lost.reason;
    const failure = asSyncError(error);
    context.runtime.logger.emit("error", "synchronization failed", {
      ...context.names,
      error_code: failure.code,
      reason: failure.message,
    });
    return failure;
  }
}

/**
 * After the commit: the marker and the part record. Failures here are warnings: the destination
 * is already replaced. A lease found lost now (taken over in the instant between the last check
 * and the rename) is said: this run's file is in place, but another run holds the destination.
 */
export async function recordCommit(
  context: JobContext,
  lease: Lease,
  parts: PartKeeper,
  marker: Marker,
  committed: Fingerprint,
): Promise<void> {
  const { logger } = context.runtime;
  if (committed.undurable)
    logger.emit("warning", "commit not durable", { ...context.names, reason: committed.undurable });
  // No separate ownership check first: each record write below checks the fence itself (a lock
  // file read: five system calls), and a lease found lost there is said the same way.
  try {
    await parts.committed();
    await writeMarker(context, lease, marker);
  } catch (error) {
    if (error instanceof LeaseLostError) {
      logger.emit("warning", "lock lost", {
        ...context.names,
        lock: lease.key,
        reason: `${error.message}, as this run committed`,
      });
      return;
    }
    logger.emit("warning", "state not recorded", {
      ...context.names,
      reason: error instanceof Error ? error.message : String(error),
    });
  }
}

/**
 * Writes the pair's marker under the lease, and may release the lease with it (nothing may be
 * written under it afterwards; `release()` stays safe to call); a refused fence is the lease lost.
 */
export async function writeMarker(
  context: JobContext,
  lease: Lease,
  marker: Marker,
): Promise<void> {
  const { store } = context.runtime;
  // The marker is the last thing written under the lease: where the store can, one step does both.
  await underFence(lease, () =>
    store.writeMarkerAndRelease
      ? store.writeMarkerAndRelease(context.keys.marker, marker, lease)
      : store.writeMarker(context.keys.marker, marker, lease.fence),
  );
}
