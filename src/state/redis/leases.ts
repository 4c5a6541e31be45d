/**
 * Leases on Redis. Taking one is `SET lease token NX PX ttl` plus an `INCR` of its fence counter,
 * in one script (`ACQUIRE`); the holder renews it (`PEXPIRE`, only while the key still holds its
 * token) every fifth of the TTL on the injected clock's timers, and frees it by compare-and-delete.
 *
 * Time: Redis dates a lease — it expires the key `ttl` after the last renewal it applied, by its
 * own clock; the holders' clocks only schedule renewals, and other hosts' clocks never judge a
 * lease's age (clock skew between hosts does not matter, only their rates). A holder counts its
 * lease as confirmed until `ttl` after it *sent* its last successful renewal, by its monotonic
 * clock: past that (Redis unreachable meanwhile) Redis may have expired it, so the lease is given
 * up (`lost`, with a `StateUnavailableError`) rather than trusted.
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { Clock } from "../../clock.js";
import {
  type AcquireOptions,
  type Fence,
  type Lease,
  LeaseLostError,
  type Predecessor,
  StateUnavailableError,
} from "../store.js";
import type { RedisKeys } from "./keys.js";
import { ACQUIRE, RELEASE, RENEW } from "./scripts.js";

const POLL_MIN_MS = 25;
const POLL_MAX_MS = 250;

/** Names the store in errors (`redis://host:port/db`, never the password). */
export interface RedisStoreIdentity {
  client: Redis;
  keys: RedisKeys;
  clock: Clock;
  display: string;
}

export class RedisLeases {
  readonly #store: RedisStoreIdentity;
  /** Renewals in flight, so that a test (or a shutdown) can wait until none is. */
  readonly #pending = new Set<Promise<void>>();

  constructor(store: RedisStoreIdentity) {
    this.#store = store;
  }

  /** An error saying the store could not be asked about `what`. */
  unavailable(what: string, error: unknown): StateUnavailableError {
    const reason = error instanceof Error ? error.message : String(error);
    return new StateUnavailableError(
      `state store ${this.#store.display} unreachable (${what}): ${reason}`,
      error,
    );
  }

  async acquire(key: string, options: AcquireOptions): Promise<Lease | undefined> {
    const { clock } = this.#store;
    const giveUpAt = clock.monotonic() + options.waitMs;
    let pause = POLL_MIN_MS;
    for (;;) {
      options.signal?.throwIfAborted();
      options.guard?.();
      const lease = await this.#tryAcquire(key, options.ttlMs);
      if (lease) return lease;
      const remaining = giveUpAt - clock.monotonic();
      if (remaining <= 0) return undefined;
      await clock.sleep(Math.min(pause, remaining), options.signal);
      pause = Math.min(pause * 2, POLL_MAX_MS);
    }
  }

  /** Resolves once no renewal of this store is in flight. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  async #tryAcquire(key: string, ttlMs: number): Promise<Lease | undefined> {
    const { client, keys, clock } = this.#store;
    const token = randomUUID();
    const sentAt = clock.monotonic();
    let reply: unknown;
    try {
      reply = await ACQUIRE.run(
        client,
        [keys.lease(key), keys.fence(key), keys.holder(key)],
        [token, Math.max(1, Math.round(ttlMs))],
      );
    } catch (error) {
      throw this.unavailable(`taking the lock ${key}`, error);
    }
    if (!Array.isArray(reply)) return undefined;
    const [fence, previousFence, previousToken, released] = reply.map(String);
    const predecessor: Predecessor =
      previousToken === "" || released === "1"
        ? { ended: "released" }
        : { ended: "expired", fence: Number(previousFence), token: previousToken as string };
    return this.#lease(key, { key, value: Number(fence), token }, predecessor, ttlMs, sentAt);
  }

  #lease(key: string, fence: Fence, predecessor: Predecessor, ttlMs: number, sentAt: number) {
    const { client, keys, clock } = this.#store;
    const lost = new AbortController();
    const period = Math.max(1, Math.floor(ttlMs / 5));
    let confirmedUntil = sentAt + ttlMs;
    let closed = false;
    const lose = (reason: Error) => {
      if (lost.signal.aborted) return;
      stop();
      lost.abort(reason);
    };
    /** Renews the lease in Redis; loses it when Redis says it is no longer ours. Throws when Redis cannot be asked. */
    const confirm = async () => {
      const asked = clock.monotonic();
      const ours = await RENEW.run(client, [keys.lease(key)], [fence.token, ttlMs]);
      if (ours !== 1) {
        // Whoever took the lease after us counted its fence past ours (the counter is never
        // reset); a counter at ours, or gone with a Redis restarted without persistence, says
        // nobody did. Unknown (Redis gone again) counts as nobody: a failure, never a false skip.
        const counted = await client.get(keys.fence(key)).then(Number, () => 0);
        const takenOver = counted > fence.value;
        lose(
          new LeaseLostError(
            key,
            takenOver
              ? "another run took the lease over"
              : "the state store no longer has the lease and no other run took it (it lapsed, or the store lost it)",
            takenOver,
          ),
        );
        return;
      }
      confirmedUntil = Math.max(confirmedUntil, asked + ttlMs);
    };
    let inFlight: Promise<void> | undefined;
    const renew = () => {
      if (closed || lost.signal.aborted || inFlight) return;
      const renewal = confirm().catch((error: unknown) => {
        // Still ours as far as Redis can have counted: retried at the next beat. A lease that
        // could run out before then is given up now: no commit on a lease nobody can confirm.
        if (clock.monotonic() + period >= confirmedUntil)
          lose(this.unavailable(`renewing the lock ${key}`, error));
      });
      inFlight = renewal.finally(() => {
        inFlight = undefined;
        this.#pending.delete(renewal);
      });
      this.#pending.add(renewal);
    };
    const stop = clock.every(period, renew);
    return {
      key,
      fence,
      predecessor,
      lost: lost.signal,
      check: async () => {
        if (!lost.signal.aborted) {
          try {
            await confirm();
          } catch (error) {
            throw this.unavailable(`checking the lock ${key}`, error);
          }
        }
        if (lost.signal.aborted) throw lost.signal.reason;
      },
      release: async () => {
        if (closed) return;
        closed = true;
        stop();
        await inFlight;
        try {
          await RELEASE.run(client, [keys.lease(key), keys.holder(key)], [fence.token]);
        } catch {
          // Never throws: a lease that could not be freed runs out by its TTL.
        }
      },
    } satisfies Lease;
  }
}
