/**
 * `StateStore` in memory: the reference implementation the conformance suite holds every store
 * to, and the store of the core's unit tests. Several `MemoryStateStore`s built on one
 * `MemoryBacking` behave like several processes sharing one store, each with its own clock — so a
 * test can freeze one "process" (a paused holder) while time passes for another.
 */
import { randomUUID } from "node:crypto";
import type { Clock } from "../clock.js";
import { type CircuitState, CLOSED } from "../policies/breaker.js";
import {
  type AcquireOptions,
  type Fence,
  type Lease,
  LeaseLostError,
  type Marker,
  type PartRecord,
  type Predecessor,
  StaleFenceError,
  type StateStore,
} from "./store.js";

interface HeldLease {
  fence: number;
  token: string;
  /** Wall time (of the holder's clock) of its last renewal. */
  renewedAt: number;
  ttlMs: number;
}

/** What several memory stores share. */
export class MemoryBacking {
  readonly leases = new Map<string, HeldLease>();
  readonly fences = new Map<string, number>();
  readonly markers = new Map<string, Marker>();
  readonly parts = new Map<string, PartRecord>();
  readonly circuits = new Map<string, CircuitState>();
}

const POLL_MS = 25;

export class MemoryStateStore implements StateStore {
  readonly #backing: MemoryBacking;
  readonly #clock: Clock;

  constructor(clock: Clock, backing: MemoryBacking = new MemoryBacking()) {
    this.#clock = clock;
    this.#backing = backing;
  }

  async acquire(key: string, options: AcquireOptions): Promise<Lease | undefined> {
    const giveUpAt = this.#clock.monotonic() + options.waitMs;
    for (;;) {
      options.signal?.throwIfAborted();
      options.guard?.();
      const lease = this.#tryAcquire(key, options.ttlMs);
      if (lease) return lease;
      const remaining = giveUpAt - this.#clock.monotonic();
      if (remaining <= 0) return undefined;
      await this.#clock.sleep(Math.min(POLL_MS, remaining), options.signal);
    }
  }

  #tryAcquire(key: string, ttlMs: number): Lease | undefined {
    const now = this.#clock.now();
    const held = this.#backing.leases.get(key);
    if (held && now - held.renewedAt <= held.ttlMs) return undefined;
    const predecessor: Predecessor = held
      ? { ended: "expired", fence: held.fence, token: held.token }
      : { ended: "released" };
    const value = (this.#backing.fences.get(key) ?? 0) + 1;
    this.#backing.fences.set(key, value);
    const mine: HeldLease = { fence: value, token: randomUUID(), renewedAt: now, ttlMs };
    this.#backing.leases.set(key, mine);
    return this.#lease(key, mine, predecessor);
  }

  #lease(key: string, mine: HeldLease, predecessor: Predecessor): Lease {
    const lost = new AbortController();
    const fence: Fence = { key, value: mine.fence, token: mine.token };
    const ours = () => this.#backing.leases.get(key)?.token === mine.token;
    const renew = () => {
      if (lost.signal.aborted) return;
      if (!ours()) {
        stop();
        // Another holder counted a fence past ours; none did: the store lost it.
        const takenOver = (this.#backing.fences.get(key) ?? 0) > mine.fence;
        lost.abort(
          new LeaseLostError(
            key,
            takenOver ? "another run took the lease over" : "the store no longer has the lease",
            takenOver,
          ),
        );
        return;
      }
      mine.renewedAt = this.#clock.now();
    };
    const stop = this.#clock.every(Math.max(1, Math.floor(mine.ttlMs / 5)), renew);
    return {
      key,
      fence,
      predecessor,
      lost: lost.signal,
      check: async () => {
        renew();
        if (lost.signal.aborted) throw lost.signal.reason;
      },
      release: async () => {
        stop();
        if (ours()) this.#backing.leases.delete(key);
      },
    };
  }

  #checkFence(key: string, fence: Fence): void {
    if (this.#backing.leases.get(fence.key)?.token !== fence.token)
      throw new StaleFenceError(key, fence);
  }

  async readMarker(key: string): Promise<Marker | undefined> {
    const marker = this.#backing.markers.get(key);
    return marker && structuredClone(marker);
  }

  async writeMarker(key: string, marker: Marker, fence: Fence): Promise<void> {
    this.#checkFence(key, fence);
    this.#backing.markers.set(key, structuredClone(marker));
  }

  async readPart(key: string): Promise<PartRecord | undefined> {
    const record = this.#backing.parts.get(key);
    return record && structuredClone(record);
  }

  async writePart(key: string, record: PartRecord, fence: Fence): Promise<void> {
    this.#checkFence(key, fence);
    this.#backing.parts.set(key, structuredClone(record));
  }

  async deletePart(key: string, fence: Fence): Promise<void> {
    this.#checkFence(key, fence);
    this.#backing.parts.delete(key);
  }

  async readCircuit(origin: string): Promise<CircuitState> {
    return this.#backing.circuits.get(origin) ?? CLOSED;
  }

  async updateCircuit(
    origin: string,
    update: (current: CircuitState) => CircuitState,
  ): Promise<CircuitState> {
    // One synchronous step: nothing else can run between the read and the write.
    const next = update(this.#backing.circuits.get(origin) ?? CLOSED);
    this.#backing.circuits.set(origin, next);
    return next;
  }
}
