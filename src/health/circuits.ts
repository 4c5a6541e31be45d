/**
 * The circuit breakers of one run: the pure state machine of `policies/breaker.ts` applied to the
 * state store's circuit records, every change an atomic update (`StateStore.updateCircuit`), so
 * that workers, concurrent runs and (with a shared store) other hosts share one view per origin,
 * and it holds across runs.
 */
import { type Clock, untilAborted } from "../clock.js";
import type { Logger } from "../log/events.js";
import { admit, type CircuitState, recordFailure, recordSuccess } from "../policies/breaker.js";
import type { StateStore } from "../state/store.js";

const CACHE_MS = 1000;
/**
 * How long this process waits for another process's probe (a fleet's other worker, another run on
 * the same state) before its transfers are refused, asking the store every
 * `FOREIGN_PROBE_POLL_MS`: once per probe, whatever the number of transfers waiting (one poll per
 * origin, shared), so a batch behind a probe that never answers loses 10 s, not 10 s a file. A
 * probe of a small file answers within it, and the batch goes on (a worker's jobs all failed
 * `circuit_open` while another worker's probe of a healed origin was under way).
 */
const FOREIGN_PROBE_PATIENCE_MS = 10_000;
const FOREIGN_PROBE_POLL_MS = 200;

export type CircuitAdmission =
  | { decision: "allow" | "probe" }
  | { decision: "reject"; retryInMs: number; failures: number };

export class Circuits {
  readonly #store: StateStore;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #ttlMs: number;
  readonly #threshold: number;
  readonly #cache = new Map<string, { state: CircuitState; at: number }>();
  /**
   * The probes this process runs, by origin, each settled by its verdict: another transfer of
   * this run refused meanwhile waits for it rather than fail (the circuit is likely closing).
   */
  readonly #probes = new Map<string, { verdict: Promise<void>; settle: () => void }>();
  /** Another process's probe being waited for, by origin: whose it is, and until when. */
  readonly #patience = new Map<string, { probeUntil: number; until: number }>();
  /** The one poll of the store per origin that those waiting share. */
  readonly #polls = new Map<string, Promise<void>>();

  constructor(
    store: StateStore,
    clock: Clock,
    logger: Logger,
    policy: { ttlMs: number; threshold: number },
  ) {
    this.#store = store;
    this.#clock = clock;
    this.#logger = logger;
    this.#ttlMs = policy.ttlMs;
    this.#threshold = policy.threshold;
  }

  /** Drops the cached state of `origin` (the store keeps it): see `OriginGate.forget`. */
  forget(origin: string): void {
    this.#cache.delete(origin);
  }

  /** The cached state of `origin`'s circuit while it is fresh; `undefined`: read the store. */
  #fresh(origin: string): CircuitState | undefined {
    const cached = this.#cache.get(origin);
    return cached && this.#clock.monotonic() - cached.at < CACHE_MS ? cached.state : undefined;
  }

  /**
   * The stored state, re-read at most once a second: a batch of a thousand files asks about one
   * origin a thousand times, and another process's change is seen within that second anyway.
   */
  async #read(origin: string): Promise<CircuitState> {
    const fresh = this.#fresh(origin);
    if (fresh) return fresh;
    const state = await this.#store.readCircuit(origin);
    this.#cache.set(origin, { state, at: this.#clock.monotonic() });
    return state;
  }

  /** Applies `update` atomically in the store; caches and returns what it left. */
  async #update(
    origin: string,
    update: (current: CircuitState) => CircuitState,
  ): Promise<CircuitState> {
    const state = await this.#store.updateCircuit(origin, update);
    this.#cache.set(origin, { state, at: this.#clock.monotonic() });
    return state;
  }

  /**
   * May a transfer to `origin` start now? Logs `circuit breaker open` when it may not. While a
   * probe of this process is out, waits for its verdict; given `signal`, also waits up to
   * `FOREIGN_PROBE_PATIENCE_MS` for another process's (rejects with the signal's reason if it
   * aborts meanwhile).
   */
  admit(origin: string, source: string, signal?: AbortSignal): Promise<CircuitAdmission> {
    return this.#admit(origin, source, signal, false);
  }

  /** `admit`; `waitSaid`: this transfer already said it waits for another process's probe. */
  async #admit(
    origin: string,
    source: string,
    signal: AbortSignal | undefined,
    waitSaid: boolean,
  ): Promise<CircuitAdmission> {
    // A closed circuit may be taken from the cache; any other is decided inside an atomic update
    // of the stored state, since the decision may write (a probe begins).
    const cached = await this.#read(origin);
    let current = cached;
    let admission = admit(cached, this.#clock.now(), this.#ttlMs);
    if (cached.state !== "closed") {
      // Decided inside the update: of many callers past the TTL, exactly one becomes the probe.
      await this.#update(origin, (stored) => {
        current = stored;
        admission = admit(stored, this.#clock.now(), this.#ttlMs);
        return admission.next;
      });
    }
    const probe = this.#probes.get(origin);
    if (admission.decision === "reject" && probe) {
      // Half-open with our own probe under way: its verdict decides, then so do we.
      await probe.verdict;
      return this.#admit(origin, source, signal, waitSaid);
    }
    const until =
      current.state === "half_open" && signal !== undefined
        ? this.#patienceFor(origin, current.probeUntil)
        : 0;
    if (admission.decision === "reject" && this.#clock.monotonic() < until) {
      // Another process's probe: its verdict is read from the store when it is written.
      if (!waitSaid) this.#logger.emit("info", "waiting for probe", { source, origin });
      const { probeUntil } = current as { probeUntil: number };
      await untilAborted(this.#pollForVerdict(origin, probeUntil, until, signal), signal);
      return this.#admit(origin, source, signal, true);
    }
    if (admission.decision === "reject") {
      this.#logger.emit("error", "circuit breaker open", {
        source,
        origin,
        seconds_until_retry: Math.ceil(admission.retryInMs / 1000),
        consecutive_failures: current.failures,
      });
      return { decision: "reject", retryInMs: admission.retryInMs, failures: current.failures };
    }
    // A probe again while ours is still out (its window ran out): those waiting keep waiting on
    // the one entry, which the first verdict settles; they then ask again.
    if (admission.decision === "probe" && !this.#probes.has(origin)) {
      let settle = () => {};
      const verdict = new Promise<void>((resolve) => {
        settle = resolve;
      });
      this.#probes.set(origin, { verdict, settle });
    }
    if (admission.decision === "probe") {
      this.#logger.emit("info", "circuit breaker half-open", { source, origin });
    }
    return { decision: admission.decision };
  }

  /** Until when this process waits for the probe of `origin` that runs until `probeUntil`. */
  #patienceFor(origin: string, probeUntil: number): number {
    const known = this.#patience.get(origin);
    if (known?.probeUntil === probeUntil) return known.until;
    const until = this.#clock.monotonic() + FOREIGN_PROBE_PATIENCE_MS;
    this.#patience.set(origin, { probeUntil, until });
    return until;
  }

  /**
   * Reads `origin`'s stored circuit every `FOREIGN_PROBE_POLL_MS` until that probe (the one whose
   * window ends at `probeUntil`) has a verdict, its window is over (its prober died: the next
   * caller probes), another probe took its place, or `until`: one such poll per origin, shared by
   * whoever waits (the first waiter's signal stops it; the others then start another).
   */
  #pollForVerdict(
    origin: string,
    probeUntil: number,
    until: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    let poll = this.#polls.get(origin);
    if (!poll) {
      poll = (async () => {
        while (this.#clock.monotonic() < until) {
          const left = until - this.#clock.monotonic();
          await this.#clock.sleep(Math.min(FOREIGN_PROBE_POLL_MS, left), signal);
          this.#cache.delete(origin);
          const state = await this.#read(origin);
          if (state.state !== "half_open" || state.probeUntil !== probeUntil) return;
          if (this.#clock.now() >= probeUntil) return;
        }
      })()
        .catch(() => {})
        .finally(() => this.#polls.delete(origin));
      this.#polls.set(origin, poll);
    }
    return poll;
  }

  /** The probe of `origin` this process ran has its verdict recorded: whoever waits may ask again. */
  #settleProbe(origin: string): void {
    const probe = this.#probes.get(origin);
    this.#probes.delete(origin);
    probe?.settle();
  }

  /** Whether `origin`'s circuit is plainly closed (no failure counted, nothing to probe). Changes nothing. */
  async isClosed(origin: string): Promise<boolean> {
    // Asked once per no-op pair: answered from a fresh cache without a second async step.
    const state = this.#fresh(origin) ?? (await this.#read(origin));
    return state.state === "closed";
  }

  /** Milliseconds until `origin`'s circuit admits work again; 0 when it admits now. Changes nothing. */
  async refusesFor(origin: string): Promise<number> {
    const admission = admit(await this.#read(origin), this.#clock.now(), this.#ttlMs);
    return admission.decision === "reject" ? admission.retryInMs : 0;
  }

  async succeeded(origin: string, source: string): Promise<void> {
    let wasOpen = false;
    try {
      // Nothing to reset by the cache's account: write nothing (and overwrite nobody's newer state).
      const cached = this.#fresh(origin) ?? (await this.#read(origin));
      if (cached.state === "closed" && cached.failures === 0) return;
      await this.#update(origin, (current) => {
        wasOpen = current.state !== "closed";
        return recordSuccess(current).next;
      });
    } finally {
      // However it ends (a store that failed included): whoever waits for this verdict asks again.
      this.#settleProbe(origin);
    }
    if (wasOpen) this.#logger.emit("info", "circuit breaker reset", { source, origin });
  }

  /** A probe ended without a verdict (interrupted, a local error): let the next caller probe at once. */
  async abandonProbe(origin: string): Promise<void> {
    const now = this.#clock.now();
    try {
      await this.#update(origin, (current) =>
        current.state !== "half_open"
          ? current
          : { state: "open", failures: current.failures, openedAt: now, openUntil: now },
      );
    } finally {
      this.#settleProbe(origin);
    }
  }

  /** Counts a transfer that failed for a transient reason; may open the circuit. */
  async failed(origin: string, source: string): Promise<void> {
    // One atomic update: another process's count is never lost.
    let opened = false;
    let next: CircuitState;
    try {
      next = await this.#update(origin, (current) => {
        const outcome = recordFailure(current, this.#clock.now(), this.#threshold, this.#ttlMs);
        opened = outcome.opened;
        return outcome.next;
      });
    } finally {
      this.#settleProbe(origin);
    }
    if (opened) {
      this.#logger.emit("error", "circuit breaker opened", {
        source,
        origin,
        consecutive_failures: next.failures,
        open_seconds: this.#ttlMs / 1000,
      });
    }
  }
}
