/**
 * `--limit-rate`: a token bucket of body bytes per second, one per run, shared by every worker
 * and every transfer (as rclone's `--bwlimit`, unlike curl's per-transfer `--limit-rate`): users
 * set it to keep a link usable, which only a cap on the whole run does.
 *
 * Reservations, as golang's `rate.Limiter`: a chunk is charged when it arrives (its bytes came
 * off the network already), the bucket may go into debt, and the caller keeps its body paused
 * until the debt is paid back. The bucket refills from the injected clock, so a fake clock drives
 * it in tests. Every charge lengthens the wait of the ones after it, so waiters are released in
 * the order they came (FIFO): no transfer starves another.
 */
import type { Clock } from "../clock.js";

/**
 * The default burst: an eighth of a second's worth, and never below 64 KiB. A chunk larger than
 * what the bucket holds (our client reads up to 256 KiB at once) is charged whole and paid back
 * by a pause, so the average rate holds whatever the read size.
 */
export function defaultBurst(bytesPerSecond: number): number {
  return Math.max(Math.ceil(bytesPerSecond / 8), 64 * 1024);
}

/** The bucket: `take` as each chunk arrives; one instance for the whole run (see above). */
export class BandwidthLimit {
  readonly bytesPerSecond: number;
  /** The most bytes taken at once without a wait: the bucket's size. */
  readonly burst: number;
  readonly #clock: Clock;
  /** Bytes that may be taken now; below zero: the debt of the charges still waiting. */
  #tokens: number;
  /** Monotonic time of the last refill. */
  #at: number;

  /**
   * A full bucket of `burst` bytes that refills at `bytesPerSecond` (a positive number) on
   * `clock`'s monotonic time.
   */
  constructor(clock: Clock, bytesPerSecond: number, burst: number = defaultBurst(bytesPerSecond)) {
    if (!(bytesPerSecond > 0) || !Number.isFinite(bytesPerSecond))
      throw new RangeError(`a bandwidth limit must be a positive number, got ${bytesPerSecond}`);
    if (!(burst > 0)) throw new RangeError(`a burst must be positive, got ${burst}`);
    this.#clock = clock;
    this.bytesPerSecond = bytesPerSecond;
    this.burst = burst;
    this.#tokens = burst;
    this.#at = clock.monotonic();
  }

  /**
   * Charges `bytes` just received. Returns `undefined` when the bucket covers them (go on at
   * once); otherwise a promise that resolves once the bucket has refilled past this charge (and
   * every charge before it) — hold the body paused until then — or rejects with `signal`'s reason
   * when it aborts first. An aborted wait keeps its charge: those bytes did arrive.
   */
  take(bytes: number, signal?: AbortSignal): Promise<void> | undefined {
    this.#refill();
    this.#tokens -= bytes;
    if (this.#tokens >= 0) return undefined;
    // Whole milliseconds, rounded up: a timer may not fire early, only late (a lower rate).
    const waitMs = Math.ceil((-this.#tokens * 1000) / this.bytesPerSecond);
    return this.#clock.sleep(waitMs, signal);
  }

  /** Bytes that may be taken now without a wait (negative: the debt still to be paid back). */
  get available(): number {
    this.#refill();
    return this.#tokens;
  }

  #refill(): void {
    const now = this.#clock.monotonic();
    const elapsed = Math.max(0, now - this.#at);
    this.#at = now;
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.bytesPerSecond) / 1000);
  }
}
