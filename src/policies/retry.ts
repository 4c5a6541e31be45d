/**
 * Retry: run an operation until it succeeds or its budget is spent, sleeping between attempts.
 * Knows nothing of HTTP or files: the caller says which errors are retryable, how each failed
 * attempt is charged, and how long to wait.
 */

/**
 * How a failed attempt is charged to the budget:
 * - `counted`: it uses up one of `maxAttempts` (the default for every failure);
 * - `free`: it does not (the origin asked to slow down, or the attempt made progress), but at
 *   most `maxFreeAttempts` such attempts are free — past that they count again;
 * - `timed`: it does not either (an outage of an origin that was answering): such attempts are
 *   bounded by `mayRetry` (a time budget), and by `maxTimedAttempts` as a last resort.
 */
export type Charge = "counted" | "free" | "timed";

/**
 * Bytes an attempt (or a segment's request) must bring for its failure to count as one that made
 * progress. A server that sends a byte and cuts the connection, over and over, is not a flaky link
 * that keeps resuming: without a floor, each such byte bought a free retry (thousands of requests
 * for a split download). 64 KiB is a read or less: any link that is moving data clears it.
 */
export const PROGRESS_FLOOR_BYTES = 64 * 1024;

export interface RetryOptions {
  maxAttempts: number;
  isRetryable(error: unknown): boolean;
  /** Milliseconds to wait after `attempt` failed with `error`. */
  delayMs(attempt: number, error: unknown): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  signal?: AbortSignal;
  /** How a retryable failure is charged (default: `counted`). */
  charge?(error: unknown): Charge;
  maxFreeAttempts?: number;
  /** Bound on `timed` attempts whatever `mayRetry` says (default 10,000). */
  maxTimedAttempts?: number;
  /**
   * Whether another attempt may start at all (a time budget), asked after every retryable
   * failure; `false` ends the loop as exhausted, whatever the attempts left.
   */
  mayRetry?(): boolean;
  /** An attempt already made elsewhere (a quick check) that failed: the loop continues from it. */
  prior?: { attempts: number; error: unknown };
  /** Called after every failed attempt; `delayMs` is set when another attempt follows. */
  onFailure?(info: { attempt: number; error: unknown; delayMs: number | undefined }): void;
}

export type RetryOutcome<T> =
  | { ok: true; value: T; attempts: number }
  | { ok: false; error: unknown; attempts: number; exhausted: boolean };

const MAX_TIMED_ATTEMPTS = 10_000;

/**
 * Runs `operation(attempt)` until it succeeds, fails with a non-retryable error, or runs out of
 * budget. An abort of `signal` is never retried: it rejects with the signal's reason.
 */
export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<RetryOutcome<T>> {
  const first = (options.prior?.attempts ?? 0) + 1;
  if (options.prior) {
    const { attempts, error } = options.prior;
    const delay =
      attempts < options.maxAttempts && (options.mayRetry?.() ?? true)
        ? options.delayMs(attempts, error)
        : undefined;
    options.onFailure?.({ attempt: attempts, error, delayMs: delay });
    if (delay === undefined) return { ok: false, error, attempts, exhausted: true };
    await options.sleep(delay, options.signal);
  }
  let free = 0;
  let timed = 0;
  for (let attempt = first; ; attempt += 1) {
    options.signal?.throwIfAborted();
    try {
      return { ok: true, value: await operation(attempt), attempts: attempt };
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      const retryable = options.isRetryable(error);
      const charge = retryable ? (options.charge?.(error) ?? "counted") : "counted";
      if (charge === "free") free += 1;
      if (charge === "timed") timed += 1;
      const freeLeft = free <= (options.maxFreeAttempts ?? 0) ? free : 0;
      const timedLeft = timed <= (options.maxTimedAttempts ?? MAX_TIMED_ATTEMPTS) ? timed : 0;
      const last =
        attempt - freeLeft - timedLeft >= options.maxAttempts || !(options.mayRetry?.() ?? true);
      const delay = retryable && !last ? options.delayMs(attempt, error) : undefined;
      options.onFailure?.({ attempt, error, delayMs: delay });
      if (delay === undefined) return { ok: false, error, attempts: attempt, exhausted: retryable };
      await options.sleep(delay, options.signal);
    }
  }
}
