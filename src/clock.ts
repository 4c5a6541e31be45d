import { setTimeout as delay } from "node:timers/promises";

/** Cancels a timer; calling it twice is harmless. */
export type Cancel = () => void;

/**
 * Time, injected. Wall time (`now`) is what persists across runs (circuit state, markers, lease
 * ages); monotonic time measures durations and cannot jump backwards with the system clock.
 * Every timer of the tool — backoff sleeps, the run's deadline, lease heartbeats — goes through
 * here, so a fake clock drives them all in tests.
 */
export interface Clock {
  /** Milliseconds since the epoch, wall clock. */
  now(): number;
  /** Milliseconds from an arbitrary origin, monotonic, fractional. */
  monotonic(): number;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `fn` once after `ms`. The timer never keeps the process alive. */
  after(ms: number, fn: () => void): Cancel;
  /** Calls `fn` every `ms` until cancelled. The timer never keeps the process alive. */
  every(ms: number, fn: () => void): Cancel;
}

/** The longest delay Node's timers take (2^31 - 1 ms, about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  sleep: async (ms, signal) => {
    signal?.throwIfAborted();
    // Node fires a timer of more than MAX_TIMER_MS at once (with a warning): a long wait (a
    // `--limit-rate` of a few bytes a second) is slept in pieces instead.
    for (let left = ms; left > 0; left -= MAX_TIMER_MS) {
      await delay(Math.min(left, MAX_TIMER_MS), undefined, signal ? { signal } : undefined).catch(
        (error: unknown) => {
          throw signal?.aborted ? signal.reason : error;
        },
      );
    }
  },
  after: (ms, fn) => {
    let timer: NodeJS.Timeout;
    const arm = (left: number) => {
      timer = setTimeout(
        () => (left > MAX_TIMER_MS ? arm(left - MAX_TIMER_MS) : fn()),
        Math.min(left, MAX_TIMER_MS),
      );
      timer.unref();
    };
    arm(ms);
    return () => clearTimeout(timer);
  },
  every: (ms, fn) => {
    const timer = setInterval(fn, Math.min(ms, MAX_TIMER_MS));
    timer.unref();
    return () => clearInterval(timer);
  },
};

/** A signal that aborts with `reason()` after `ms` on `clock`, and the way to stop it early. */
export function timeoutSignal(
  clock: Clock,
  ms: number,
  reason: () => unknown,
): { signal: AbortSignal; cancel: Cancel } {
  const controller = new AbortController();
  const cancel = clock.after(ms, () => controller.abort(reason()));
  return { signal: controller.signal, cancel };
}

/**
 * A signal that aborts when `first` or `second` does, with its reason (already aborted if either
 * is), and the way to detach it. `AbortSignal.any` does the same but costs several times more per
 * call and keeps its result attached to a long-lived input (the run's signal) until a garbage
 * collection: a batch makes one per pair. Call `dispose` once the signal is no longer needed.
 */
export function eitherSignal(
  first: AbortSignal,
  second: AbortSignal,
): { signal: AbortSignal; dispose: Cancel } {
  const controller = new AbortController();
  const already = first.aborted ? first : second.aborted ? second : undefined;
  if (already) {
    controller.abort(already.reason);
    return { signal: controller.signal, dispose: () => {} };
  }
  const onFirst = () => controller.abort(first.reason);
  const onSecond = () => controller.abort(second.reason);
  const dispose = () => {
    first.removeEventListener("abort", onFirst);
    second.removeEventListener("abort", onSecond);
  };
  first.addEventListener("abort", onFirst, { once: true });
  second.addEventListener("abort", onSecond, { once: true });
  controller.signal.addEventListener("abort", dispose, { once: true });
  return { signal: controller.signal, dispose };
}

/**
 * `promise`, or a rejection with `signal`'s reason as soon as it aborts (at once if it already
 * has), whatever `promise` is still waiting for. `promise` is always handled: settling later,
 * after the abort, it is dropped without an unhandled rejection.
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
