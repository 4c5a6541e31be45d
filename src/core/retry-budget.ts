/**
 * One transfer's retry budget: how each failed attempt is charged, how long to wait before the
 * next, and when to stop. It knows what the attempts said about the origin (progress, "slow
 * down", silence) and turns that into the numbers `withRetry` asks for.
 */
import { SyncError } from "../errors.js";
import type { OriginGate } from "../health/origin-gate.js";
import { isUnreachable } from "../health/origin-health.js";
import { backoffDelayMs, OUTAGE_BACKOFF_CAP_MS } from "../policies/backoff.js";
import { type Charge, PROGRESS_FLOOR_BYTES } from "../policies/retry.js";

/**
 * Attempts a transfer may make beyond `--max-retries`: those answered "slow down" (429, 503 with
 * Retry-After), and those that made progress (`PROGRESS_FLOOR_BYTES` at least) before they failed
 * (a flaky link that keeps resuming is not a dead origin). Bounded all the same.
 */
export const FREE_ATTEMPTS = 100;

export interface RetryBudgetOptions {
  origin: string;
  gate: OriginGate;
  /** Monotonic milliseconds. */
  now: () => number;
  random: () => number;
  /** Attempts in total that count (1: exactly one attempt, whatever happens). */
  maxAttempts: number;
  /** `--retry-max-time` in milliseconds. */
  retryMaxTimeMs: number;
  /** Whether a failed attempt's bytes are kept for the next one to resume from. */
  resumable: () => boolean;
  /** Multiplies every wait (a test hook; 1 for users). */
  delayScale: number;
  /** `--backoff-factor`: multiplies the backoff, never a server's Retry-After or pace. */
  backoffFactor?: number;
}

export class RetryBudget {
  readonly #options: RetryBudgetOptions;
  /** The time budget runs from the first attempt and starts over at every answer and byte. */
  readonly #budgetFrom: number;
  #answeredAt = Number.NEGATIVE_INFINITY;
  #attempt = 0;
  #attemptBytes = 0;
  #lastProgressAt = 0;
  #charged: Charge = "counted";
  #slotTaken = false;
  #outOfTime = false;

  constructor(options: RetryBudgetOptions) {
    this.#options = options;
    this.#budgetFrom = options.now();
  }

  /** Whether the budget ran out because the origin stayed silent past `--retry-max-time`. */
  get outOfTime(): boolean {
    return this.#outOfTime;
  }

  /**
   * An attempt begins: how long it must first wait for its start slot at the origin's pace (a
   * retry after a "slow down" already waited for its slot in `delayMs`).
   */
  begin(attempt: number): number {
    this.#attempt = attempt;
    this.#attemptBytes = 0;
    const wait = this.#slotTaken
      ? 0
      : this.#options.gate.reserveStart(this.#options.origin, this.#options.now());
    this.#slotTaken = false;
    return wait * this.#options.delayScale;
  }

  /** The origin answered (headers arrived): it is alive, and the silence clock starts over. */
  answered(): void {
    this.#answeredAt = this.#options.now();
    this.#options.gate.heard(this.#options.origin, this.#answeredAt);
  }

  /** Body bytes arrived. */
  received(bytes: number): void {
    this.#attemptBytes += bytes;
    this.#answeredAt = this.#options.now();
  }

  /**
   * How a failed attempt is charged. Progress is free where the next attempt resumes from it (a
   * kept, recorded part). "Slow down" is not "down": free. Neither ever turns "one attempt"
   * (--max-retries 1) into several. An origin heard from in this run that cannot be reached now is
   * having an outage: such attempts are bounded by time (--retry-max-time), not by count.
   */
  charge(error: unknown): Charge {
    this.#charged = this.#chargeOf(error);
    return this.#charged;
  }

  #chargeOf(error: unknown): Charge {
    const { maxAttempts, gate, origin } = this.#options;
    if (
      maxAttempts > 1 &&
      this.#attemptBytes >= PROGRESS_FLOOR_BYTES &&
      this.#options.resumable()
    ) {
      this.#lastProgressAt = this.#attempt;
      return "free";
    }
    if (!(error instanceof SyncError)) return "counted";
    if (error.throttled) {
      this.#answeredAt = this.#options.now(); // it answered, if only to say "later"
      return maxAttempts > 1 ? "free" : "counted";
    }
    const heard = gate.heardAt(origin) > Number.NEGATIVE_INFINITY;
    return maxAttempts > 1 && heard && isUnreachable(error) ? "timed" : "counted";
  }

  /** Whether another attempt may start: the origin has not been silent past `--retry-max-time`. */
  mayRetry(): boolean {
    const silentFor = this.#options.now() - Math.max(this.#budgetFrom, this.#answeredAt);
    this.#outOfTime = silentFor > this.#options.retryMaxTimeMs;
    return !this.#outOfTime;
  }

  /** The wait before the attempt after `attempt`, which failed with `error` (charged just now). */
  delayMs(attempt: number, error: unknown): number {
    const { gate, origin, now, random, delayScale } = this.#options;
    // A "slow down" is waited out at the origin's pace (with its Retry-After), shared by every
    // worker: the retry waits for its start slot.
    if (error instanceof SyncError && error.throttled) {
      const at = now();
      gate.throttle(origin, at, error.retryAfterMs);
      this.#slotTaken = true;
      return Math.round(gate.reserveStart(origin, at) * delayScale);
    }
    const retryAfter = error instanceof SyncError ? error.retryAfterMs : undefined;
    // The backoff starts over after an attempt that made progress; through an outage it stays
    // short, so that the link is used again within seconds of its return.
    const sinceProgress = attempt - this.#lastProgressAt;
    const cap = this.#charged === "timed" ? OUTAGE_BACKOFF_CAP_MS : undefined;
    const backoff = backoffDelayMs(sinceProgress, random, cap) * (this.#options.backoffFactor ?? 1);
    return Math.round((retryAfter ?? backoff) * delayScale);
  }

  /** The failure to report: the last one, saying when the time budget ended the retries. */
  failure(last: SyncError): SyncError {
    if (!this.#outOfTime) return last;
    const seconds = Math.round(this.#options.retryMaxTimeMs / 1000);
    return new SyncError(
      last.code,
      `${last.message}; gave up after ${seconds} s without an answer (--retry-max-time)`,
      {
        retryable: last.retryable,
        ...(last.status === undefined ? {} : { status: last.status }),
        cause: last,
      },
    );
  }
}
