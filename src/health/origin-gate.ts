/**
 * The origin gate: until an origin has answered well, only one transfer at a time may talk to
 * it. A dead origin is thus met by one transfer and its retries — which open the circuit for
 * everyone else — instead of by every worker at once, each spending its own retries. An origin
 * that answered once is trusted until a transfer to it fails for a transient reason; then it is
 * suspect again, and transfers already running must take a turn before they retry.
 */

import type { SyncError } from "../errors.js";

/** A turn at an origin's gate. `held` is false for a proven origin (no turn is needed). */
export interface Turn {
  readonly held: boolean;
  leave(): void;
}

interface OriginState {
  proven: boolean;
  busy: boolean;
  /** It failed after proving itself: response headers alone no longer prove it, a finished transfer must. */
  suspected: boolean;
  /** Counts suspicions: a proof from an attempt begun before the latest one is stale. */
  epoch: number;
  /** The origin asked to slow down: no request to it before this (monotonic ms). */
  pausedUntil: number;
  /** The pace it allows: at least this long between two requests' starts (0: no limit known). */
  intervalMs: number;
  /** When the next request may start (monotonic ms). */
  nextStartAt: number;
  /** When the pace was last slowed: answers to one burst of requests slow it once. */
  slowedAt: number;
  /** When it last answered or sent a byte in this run (monotonic ms); -Infinity: never. */
  heardAt: number;
  /** Why this run gave up on it (a whole retry budget spent on it unanswered); cleared when heard from. */
  givenUp: SyncError | undefined;
}

/** The pace after a first "slow down", and the slowest it ever goes. */
const FIRST_INTERVAL_MS = 250;
const SLOWEST_INTERVAL_MS = 30_000;

const FREE: Turn = { held: false, leave: () => {} };

export class OriginGate {
  readonly #origins = new Map<string, OriginState>();
  #waiters: Array<() => void> = [];

  #state(origin: string): OriginState {
    let state = this.#origins.get(origin);
    if (!state) {
      state = {
        proven: false,
        busy: false,
        suspected: false,
        epoch: 0,
        pausedUntil: 0,
        intervalMs: 0,
        nextStartAt: 0,
        slowedAt: Number.NEGATIVE_INFINITY,
        heardAt: Number.NEGATIVE_INFINITY,
        givenUp: undefined,
      };
      this.#origins.set(origin, state);
    }
    return state;
  }

  /**
   * Drops what the gate knows of `origin` unless a transfer holds its turn: for an origin no
   * other pair of the run will ask about (a local file is an origin of its own), so that a run
   * of a million files does not keep a million states. Asked again, it starts unproven.
   */
  forget(origin: string): void {
    if (this.#origins.get(origin)?.busy === false) this.#origins.delete(origin);
  }

  /** How many origins the gate keeps a state for. */
  get size(): number {
    return this.#origins.size;
  }

  /** A turn at `origin` now, or `undefined` when another transfer holds it. */
  tryEnter(origin: string): Turn | undefined {
    const state = this.#state(origin);
    if (state.proven) return FREE;
    if (state.busy) return undefined;
    state.busy = true;
    let left = false;
    return {
      held: true,
      leave: () => {
        if (left) return;
        left = true;
        state.busy = false;
        this.#changed();
      },
    };
  }

  /** Waits for a turn at `origin`. */
  async enter(origin: string, signal?: AbortSignal): Promise<Turn> {
    for (;;) {
      signal?.throwIfAborted();
      const turn = this.tryEnter(origin);
      if (turn) return turn;
      await this.changed(signal);
    }
  }

  isProven(origin: string): boolean {
    return this.#state(origin).proven;
  }

  /**
   * The origin answered well: let everyone through. `answered` (response headers arrived) is
   * enough for an origin never seen failing; a suspect one must have `finished` a transfer, since
   * a server that sends headers and then drops the connection would otherwise prove itself on
   * every retry. `since` is the epoch when the proving attempt began.
   */
  prove(origin: string, how: "answered" | "finished", since: number): void {
    const state = this.#state(origin);
    if (state.proven || since < state.epoch || (state.suspected && how === "answered")) return;
    state.proven = true;
    state.suspected = false;
    this.#changed();
  }

  /** A transfer to the origin failed for a transient reason: one at a time again. */
  suspect(origin: string): void {
    const state = this.#state(origin);
    state.proven = false;
    state.suspected = true;
    state.epoch += 1;
  }

  /**
   * The origin asked to slow down (429, or `Retry-After`) at `nowMs` (monotonic): requests to it
   * are spaced twice as far apart as before (a quarter second at first; once per spacing, however
   * many workers were told at once), and none starts before
   * `Retry-After` has passed. Every worker of the run keeps that pace; it speeds up again by a
   * tenth with each request the origin accepts: slow down fast, recover gently.
   */
  throttle(origin: string, nowMs: number, retryAfterMs: number | undefined): void {
    const state = this.#state(origin);
    // Several workers told "slow down" at once are one signal, not several: slow down once per
    // spacing, as TCP halves its window once per round trip.
    if (nowMs - state.slowedAt >= Math.max(FIRST_INTERVAL_MS, state.intervalMs)) {
      state.intervalMs = Math.min(
        SLOWEST_INTERVAL_MS,
        Math.max(FIRST_INTERVAL_MS, state.intervalMs * 2),
      );
      state.slowedAt = nowMs;
    }
    state.pausedUntil = Math.max(state.pausedUntil, nowMs + (retryAfterMs ?? state.intervalMs));
  }

  /** The origin accepted a request: its pace may quicken. */
  accepted(origin: string): void {
    const state = this.#state(origin);
    if (state.intervalMs === 0) return;
    state.intervalMs = state.intervalMs < FIRST_INTERVAL_MS / 4 ? 0 : state.intervalMs * 0.9;
  }

  /**
   * Takes the next start slot for a request to `origin` at `nowMs`, and says how long to wait
   * for it (0: go now). Without a known limit every request may go at once.
   */
  reserveStart(origin: string, nowMs: number): number {
    const state = this.#state(origin);
    if (state.intervalMs === 0 && state.pausedUntil <= nowMs) return 0;
    const start = Math.max(nowMs, state.pausedUntil, state.nextStartAt);
    state.nextStartAt = start + state.intervalMs;
    return start - nowMs;
  }

  /**
   * The origin answered, or sent body bytes, at `nowMs` (monotonic). An origin heard from in this
   * run that stops answering is taken for a passing outage rather than a dead origin.
   */
  heard(origin: string, nowMs: number): void {
    const state = this.#state(origin);
    if (nowMs > state.heardAt) state.heardAt = nowMs;
    state.givenUp = undefined;
  }

  /**
   * A request spent its whole retry budget (`--max-retries`, or `--retry-max-time` of silence)
   * on the origin and it never answered: `failure` says how. Index requests to it then fail at
   * once with that failure instead of each spending a budget of its own, until it is heard from.
   */
  giveUp(origin: string, failure: SyncError): void {
    this.#state(origin).givenUp = failure;
  }

  /** Why this run gave up on `origin`, if it did and has not heard from it since. */
  givenUp(origin: string): SyncError | undefined {
    return this.#state(origin).givenUp;
  }

  /** When `origin` was last heard from in this run (monotonic ms); -Infinity when never. */
  heardAt(origin: string): number {
    return this.#state(origin).heardAt;
  }

  /** Take it when an attempt begins, and hand it to `prove` when the attempt succeeds. */
  epoch(origin: string): number {
    return this.#state(origin).epoch;
  }

  /** Resolves at the next change of any origin's state (a turn given back, an origin proven). */
  changed(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const wake = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((waiter) => waiter !== wake);
        reject(signal?.reason);
      };
      this.#waiters.push(wake);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  #changed(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
