/**
 * `StateStore` on Redis (`--state redis://…`): the state many hosts share — leases, markers, part
 * records, circuit state — under one key prefix. One Redis primary is the source of truth; see
 * docs/state.md for what that guarantees and what it does not.
 *
 * Time model (whose clock dates what): Redis dates leases — a lease key expires `ttl` after the
 * last renewal Redis applied, by Redis's clock; each holder's injected clock only schedules its
 * renewals (every fifth of the TTL) and bounds how long it trusts an unconfirmed lease
 * (`leases.ts`). Circuit states carry wall-clock times written by whichever host updated them, so
 * hosts' clocks should agree to well within a circuit's TTL (NTP does).
 *
 * Fenced writes (markers, part records) are Lua scripts that check the writer's token and fence
 * and write in one atomic step: unlike the file store, no window lets a holder that lost its lease
 * land one more write. Circuit updates are compare-and-set on a version, retried on conflict.
 */
import type { Redis } from "ioredis";
import type { Clock } from "../../clock.js";
import type { Logger } from "../../log/events.js";
import { type CircuitState, CLOSED, circuitFromJSON } from "../../policies/breaker.js";
import { isMarker, isPartRecord } from "../records.js";
import { SerialByKey } from "../serial-by-key.js";
import {
  type AcquireOptions,
  type Fence,
  type Lease,
  type Marker,
  type PartRecord,
  StaleFenceError,
  type StateStore,
} from "../store.js";
import { RedisKeys } from "./keys.js";
import { RedisLeases } from "./leases.js";
import { CIRCUIT_SET, FENCED_WRITE } from "./scripts.js";

/** Compare-and-set rounds one circuit update may take before it gives up (others kept winning). */
const CIRCUIT_ROUNDS = 50;
const CIRCUIT_PAUSE_MS = 5;

export const DEFAULT_PREFIX = "resilient-sync:";

export interface RedisStoreOptions {
  client: Redis;
  clock: Clock;
  logger: Logger;
  /** Every key starts with it (`--state-prefix`). */
  prefix: string;
  /** The store as shown in logs and errors: `redis://host:port/db`, never the password. */
  display: string;
}

export class RedisStateStore implements StateStore {
  readonly display: string;
  readonly #client: Redis;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #keys: RedisKeys;
  readonly #leases: RedisLeases;
  /** Circuit updates of this process, one at a time per origin (other hosts: compare-and-set). */
  readonly #circuitUpdates = new SerialByKey();

  constructor(options: RedisStoreOptions) {
    this.display = options.display;
    this.#client = options.client;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#keys = new RedisKeys(options.prefix);
    this.#leases = new RedisLeases({
      client: options.client,
      keys: this.#keys,
      clock: options.clock,
      display: options.display,
    });
  }

  acquire(key: string, options: AcquireOptions): Promise<Lease | undefined> {
    return this.#leases.acquire(key, options);
  }

  /**
   * Resolves once the connection to Redis is ready: at once when it is, else at its next
   * reconnection (the connection keeps trying in the background). Rejects when `signal` aborts.
   */
  async untilReachable(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const client = this.#client;
    if (client.status === "ready") return;
    // Not `events.once`: it rejects at the first `error`, and every failed reconnect emits one.
    await new Promise<void>((resolve, reject) => {
      const onReady = () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        client.off("ready", onReady);
        reject(signal.reason);
      };
      client.once("ready", onReady);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Resolves once no lease renewal of this store is in flight (tests; a clean shutdown). */
  settled(): Promise<void> {
    return this.#leases.settled();
  }

  /** A command to Redis; its failure is a `StateUnavailableError` saying what was being done. */
  async #ask<T>(what: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw this.#leases.unavailable(what, error);
    }
  }

  async #fencedWrite(key: string, target: string, fence: Fence, value?: string): Promise<void> {
    const written = await this.#ask(`writing ${target}`, () =>
      FENCED_WRITE.run(
        this.#client,
        [this.#keys.lease(fence.key), this.#keys.holder(fence.key), target],
        [fence.token, fence.value, value === undefined ? "del" : "set", value ?? ""],
      ),
    );
    if (written !== 1) throw new StaleFenceError(key, fence);
  }

  async #readRecord<T>(
    redisKey: string,
    valid: (value: unknown) => boolean,
  ): Promise<T | undefined> {
    const text = await this.#ask(`reading ${redisKey}`, () => this.#client.get(redisKey));
    if (text === null) return undefined;
    try {
      const value: unknown = JSON.parse(text);
      if (valid(value)) return value as T;
    } catch {
      // reported below
    }
    this.#logger.emit("warning", "ignored unreadable state", {
      key: redisKey,
      reason: "unexpected content",
    });
    return undefined;
  }

  readMarker(key: string): Promise<Marker | undefined> {
    return this.#readRecord(this.#keys.marker(key), isMarker);
  }

  writeMarker(key: string, marker: Marker, fence: Fence): Promise<void> {
    return this.#fencedWrite(key, this.#keys.marker(key), fence, JSON.stringify(marker));
  }

  readPart(key: string): Promise<PartRecord | undefined> {
    return this.#readRecord(this.#keys.part(key), isPartRecord);
  }

  writePart(key: string, record: PartRecord, fence: Fence): Promise<void> {
    return this.#fencedWrite(key, this.#keys.part(key), fence, JSON.stringify(record));
  }

  deletePart(key: string, fence: Fence): Promise<void> {
    return this.#fencedWrite(key, this.#keys.part(key), fence);
  }

  async readCircuit(origin: string): Promise<CircuitState> {
    return (await this.#readCircuit(origin)).state;
  }

  async #readCircuit(origin: string): Promise<{ version: string; state: CircuitState }> {
    const key = this.#keys.circuit(origin);
    const [version, text] = await this.#ask(`reading ${key}`, () =>
      this.#client.hmget(key, "version", "state"),
    );
    let state: CircuitState | undefined;
    try {
      state = text === null || text === undefined ? CLOSED : circuitFromJSON(JSON.parse(text));
    } catch {
      state = undefined;
    }
    if (!state) {
      this.#logger.emit("warning", "ignored unreadable state", {
        key,
        reason: "unexpected content",
      });
      state = CLOSED;
    }
    return { version: version ?? "0", state };
  }

  updateCircuit(
    origin: string,
    update: (current: CircuitState) => CircuitState,
  ): Promise<CircuitState> {
    return this.#circuitUpdates.run(origin, () => this.#updateCircuit(origin, update));
  }

  /** Read, apply `update`, compare-and-set; again from the read when another host wrote between. */
  async #updateCircuit(
    origin: string,
    update: (current: CircuitState) => CircuitState,
  ): Promise<CircuitState> {
    const key = this.#keys.circuit(origin);
    for (let round = 0; round < CIRCUIT_ROUNDS; round += 1) {
      const { version, state } = await this.#readCircuit(origin);
      const next = update(state);
      const stored = await this.#ask(`writing ${key}`, () =>
        CIRCUIT_SET.run(this.#client, [key], [version, JSON.stringify({ origin, ...next })]),
      );
      if (stored === 1) return next;
      // Another host won this round: a short pause, jittered by the round, then read again.
      await this.#clock.sleep(CIRCUIT_PAUSE_MS * (1 + (round % 4)));
    }
    throw new Error(`the circuit state of ${origin} kept changing under ${CIRCUIT_ROUNDS} updates`);
  }
}
