/** Exponential backoff with jitter, and `Retry-After` parsing. Pure: no clock, no I/O. */

export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_CAP_MS = 16_000;
/**
 * The longest wait between attempts while an origin that was answering cannot be reached: short,
 * so that a link that comes back is used within seconds, not left idle for a long backoff.
 */
export const OUTAGE_BACKOFF_CAP_MS = 2000;
/** Jitter adds up to this fraction of the base delay, so that many clients spread out. */
export const JITTER_FRACTION = 0.25;
/** A `Retry-After` longer than this is shortened: a CLI run should not sleep for an hour. */
export const RETRY_AFTER_CAP_MS = 60_000;

/**
 * The delay before attempt `attempt + 1`, after `attempt` (1-based) failed: 1 s, 2 s, 4 s, 8 s,
 * 16 s, 16 s … (never above `capMs`) plus up to 25 % random jitter. `random` returns a number
 * in [0, 1).
 */
export function backoffDelayMs(
  attempt: number,
  random: () => number,
  capMs: number = BACKOFF_CAP_MS,
): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 30));
  const base = Math.min(capMs, BACKOFF_BASE_MS * 2 ** exponent);
  return Math.round(base + base * JITTER_FRACTION * random());
}

/**
 * Parses a `Retry-After` header — delta-seconds or an HTTP date — into milliseconds from `nowMs`,
 * capped at `RETRY_AFTER_CAP_MS`. `undefined` when absent or unparseable.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  let ms: number;
  if (/^\d+$/.test(text)) {
    ms = Number(text) * 1000;
  } else {
    // HTTP dates (IMF-fixdate, RFC 850, asctime) all start with a day name.
    if (!/^[A-Za-z]{3}/.test(text)) return undefined;
    const date = Date.parse(text);
    if (Number.isNaN(date)) return undefined;
    ms = date - nowMs;
  }
  return Math.min(RETRY_AFTER_CAP_MS, Math.max(0, ms));
}
