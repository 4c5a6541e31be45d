import { setTimeout as delay } from "node:timers/promises";

/**
 * Time, injected. Wall time (`now`) is what persists across runs (circuit state, markers);
 * monotonic time measures durations and cannot jump backwards with the system clock.
 */
export interface Clock {
  /** Milliseconds since the epoch, wall clock. */
  now(): number;
  /** Milliseconds from an arbitrary origin, monotonic, fractional. */
  monotonic(): number;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  sleep: async (ms, signal) => {
    if (ms <= 0) {
      signal?.throwIfAborted();
      return;
    }
    await delay(ms, undefined, signal ? { signal } : undefined).catch((error: unknown) => {
      throw signal?.aborted ? signal.reason : error;
    });
  },
};
