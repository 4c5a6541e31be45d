/**
 * A clock whose time moves only when a test says so (`advance`), or — with `autoAdvance` — as far
 * as each sleep asks, at once. Timers (`after`, `every`) fire as time passes them; sleeps resolve.
 * Several fake clocks model several processes: freeze one (a paused holder) while another runs on.
 */
import type { Cancel, Clock } from "../../src/clock.js";

interface Timer {
  at: number;
  every: number | undefined;
  fire: () => void;
  cancelled: boolean;
}

export class FakeClock implements Clock {
  #now: number;
  #monotonic = 0;
  readonly #timers = new Set<Timer>();
  readonly #autoAdvance: boolean;

  constructor(options: { start?: number; autoAdvance?: boolean } = {}) {
    this.#now = options.start ?? Date.now();
    this.#autoAdvance = options.autoAdvance ?? false;
  }

  now(): number {
    return this.#now;
  }

  monotonic(): number {
    return this.#monotonic;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.#autoAdvance) {
      await Promise.resolve();
      this.advance(ms);
      signal?.throwIfAborted();
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const cancel = this.after(ms, () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
      const onAbort = () => {
        cancel();
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  after(ms: number, fn: () => void): Cancel {
    return this.#add({ at: this.#monotonic + ms, every: undefined, fire: fn, cancelled: false });
  }

  every(ms: number, fn: () => void): Cancel {
    return this.#add({ at: this.#monotonic + ms, every: ms, fire: fn, cancelled: false });
  }

  /** Moves time on by `ms`, firing every timer it passes, in order. */
  advance(ms: number): void {
    const end = this.#monotonic + ms;
    for (;;) {
      const next = [...this.#timers].filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.#now += next.at - this.#monotonic;
      this.#monotonic = next.at;
      if (next.every === undefined) this.#timers.delete(next);
      else next.at += next.every;
      next.fire();
    }
    this.#now += end - this.#monotonic;
    this.#monotonic = end;
  }

  /** Timers still pending (a leak check for tests). */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  #add(timer: Timer): Cancel {
    this.#timers.add(timer);
    return () => {
      timer.cancelled = true;
      this.#timers.delete(timer);
    };
  }
}
