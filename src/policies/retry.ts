/**
 * Retry: run an operation up to `maxAttempts` times, sleeping between attempts. Knows nothing of
 * HTTP or files: the caller says which errors are retryable and how long to wait.
 */

export interface RetryOptions {
  maxAttempts: number;
  isRetryable(error: unknown): boolean;
  /** Milliseconds to wait after `attempt` failed with `error`. */
  delayMs(attempt: number, error: unknown): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  signal?: AbortSignal;
  /**
   * Whether a failed attempt uses up the budget (default: every one does). Those that do not
   * (the origin asked to slow down) are still bounded: at most `maxFreeAttempts` of them.
   */
  counts?(error: unknown): boolean;
  maxFreeAttempts?: number;
  /** An attempt already made elsewhere (a quick check) that failed: the loop continues from it. */
  prior?: { attempts: number; error: unknown };
  /** Called after every failed attempt; `delayMs` is set when another attempt follows. */
  onFailure?(info: { attempt: number; error: unknown; delayMs: number | undefined }): void;
}

export type RetryOutcome<T> =
  | { ok: true; value: T; attempts: number }
  | { ok: false; error: unknown; attempts: number; exhausted: boolean };

/**
 * Runs `operation(attempt)` until it succeeds, fails with a non-retryable error, or runs out of
 * attempts. An abort of `signal` is never retried: it rejects with the signal's reason.
 */
export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<RetryOutcome<T>> {
  const first = (options.prior?.attempts ?? 0) + 1;
  if (options.prior) {
    const { attempts, error } = options.prior;
    const delay = attempts < options.maxAttempts ? options.delayMs(attempts, error) : undefined;
    options.onFailure?.({ attempt: attempts, error, delayMs: delay });
    if (delay === undefined) return { ok: false, error, attempts, exhausted: true };
    await options.sleep(delay, options.signal);
  }
  let free = 0;
  for (let attempt = first; ; attempt += 1) {
    options.signal?.throwIfAborted();
    try {
      return { ok: true, value: await operation(attempt), attempts: attempt };
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      const retryable = options.isRetryable(error);
      if (retryable && options.counts && !options.counts(error)) free += 1;
      const freeLeft = free <= (options.maxFreeAttempts ?? 0) ? free : 0;
      const last = attempt - freeLeft >= options.maxAttempts;
      const delay = retryable && !last ? options.delayMs(attempt, error) : undefined;
      options.onFailure?.({ attempt, error, delayMs: delay });
      if (delay === undefined) return { ok: false, error, attempts: attempt, exhausted: retryable };
      await options.sleep(delay, options.signal);
    }
  }
}
