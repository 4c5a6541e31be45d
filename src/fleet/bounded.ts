/**
 * Waits on a Redis that may never answer, bounded: BullMQ's connections wait for `ready` with
 * no limit (right for a worker's blocking reads, wrong for a command a person waits on).
 */
import type { Clock } from "../clock.js";

/**
 * Resolves as `work` does, unless `signal` aborts first (rejects with its reason) or `ms` pass
 * first (rejects with `late()`). `work` is left running either way; its outcome is ignored.
 */
export async function within<T>(
  work: Promise<T>,
  settings: { ms: number; signal: AbortSignal; clock: Clock; late: () => Error },
): Promise<T> {
  const { signal, clock } = settings;
  signal.throwIfAborted();
  work.catch(() => {});
  const timer = new AbortController();
  const either = AbortSignal.any([signal, timer.signal]);
  const deadline = clock.sleep(settings.ms, either).then(
    () => {
      throw settings.late();
    },
    () => {
      throw signal.aborted ? signal.reason : new Error("cancelled");
    },
  );
  deadline.catch(() => {});
  try {
    return await Promise.race([work, deadline]);
  } finally {
    timer.abort();
  }
}
