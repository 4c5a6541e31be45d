/**
 * The conformance suite on a real redis-server. Redis expires leases by its own clock, so this
 * world's time is real: a short TTL, and the hooks wait on Redis itself — the lease key's
 * remaining TTL (`PTTL`) for a frozen holder's lease, Redis's clock (`TIME`) otherwise — while
 * the running stores' fake clocks advance in step and fire their renewals.
 */
import { randomUUID } from "node:crypto";
import type { TestContext } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import type { Redis } from "ioredis";
import { silentLogger } from "../../src/log/events.js";
import { closeRedis, connectRedis } from "../../src/state/redis/connection.js";
import { RedisKeys } from "../../src/state/redis/keys.js";
import { parseRedisLocation } from "../../src/state/redis/location.js";
import { RedisStateStore } from "../../src/state/redis/store.js";
import type { FakeClock } from "../helpers/fake-clock.js";
import { REDIS_SKIP, type RedisServer, useRedis } from "../helpers/redis.js";
import { type StoreWorld, storeConformance } from "./conformance.js";

const TTL_MS = 1000;
/** A boundary checked this far from the edge: real time overshoots by a poll and a round trip. */
const SLACK_MS = 400;
const POLL_MS = 5;

const redis = useRedis();

/** Redis's clock, in milliseconds. */
async function redisNow(client: Redis): Promise<number> {
  const [seconds, micros] = await client.time();
  return Number(seconds) * 1000 + Number(micros) / 1000;
}

async function redisWorld(t: TestContext, server: RedisServer): Promise<StoreWorld> {
  const location = parseRedisLocation(server.url());
  const prefix = `conformance-${randomUUID()}:`;
  const keys = new RedisKeys(prefix);
  const admin = await connectRedis(location, silentLogger);
  const clients: Redis[] = [admin];
  const stores: RedisStateStore[] = [];
  t.after(() => {
    for (const client of clients) closeRedis(client);
  });
  const tick = async (ms: number, clocks: FakeClock[]) => {
    for (const clock of clocks) clock.advance(ms);
    await Promise.all(stores.map((store) => store.settled()));
  };
  /** Polls `done` every few ms (bounded), advancing `clocks` by the real time that passed. */
  const runUntil = async (done: () => Promise<boolean>, clocks: FakeClock[], boundMs: number) => {
    const giveUpAt = Date.now() + boundMs;
    let last = Date.now();
    while (!(await done())) {
      if (Date.now() > giveUpAt) throw new Error(`time did not pass as asked within ${boundMs} ms`);
      await delay(POLL_MS);
      const now = Date.now();
      await tick(now - last, clocks);
      last = now;
    }
  };
  return {
    ttlMs: TTL_MS,
    slackMs: SLACK_MS,
    open: async (clock) => {
      const client = await connectRedis(location, silentLogger);
      clients.push(client);
      const store = new RedisStateStore({
        client,
        clock,
        logger: silentLogger,
        prefix,
        display: location.display,
      });
      stores.push(store);
      return store;
    },
    tick,
    elapse: async (ms, clocks) => {
      const end = (await redisNow(admin)) + ms;
      await runUntil(async () => (await redisNow(admin)) >= end, clocks, ms * 3 + 2000);
    },
    age: async (key, ms, clocks) => {
      const lease = keys.lease(key);
      const target = (await admin.pttl(lease)) - ms;
      await runUntil(
        async () => {
          const left = await admin.pttl(lease);
          return left === -2 || left <= target;
        },
        clocks,
        ms * 3 + 2000,
      );
    },
  };
}

storeConformance("redis", (t) => redisWorld(t, redis.server), { skip: REDIS_SKIP });
