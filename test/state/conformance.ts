/**
 * One suite every `StateStore` must pass (in the spirit of rclone's fstests): leases, fences,
 * takeovers of silent holders, fenced records, atomic circuit updates. `world` opens stores that
 * share one backing — like processes sharing a folder or a Redis — each with its own clock, so a
 * holder can be frozen (paused) while time passes for the others.
 *
 * Time passes through the world's hooks, because stores differ in whose clock dates a lease. The
 * memory and file stores judge a lease's age by the clocks they are given: the hooks advance the
 * fake clocks, to the millisecond. Redis dates leases by its own real clock: its world uses a
 * short TTL, lets real time pass (watching the lease key's remaining TTL, or Redis's clock) while
 * the running stores' fake clocks advance with it and fire their renewals — and a frozen holder's
 * clock never moves, so it never renews.
 */
import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import type { CircuitState } from "../../src/policies/breaker.js";
import {
  type Lease,
  LeaseLostError,
  type Marker,
  type PartRecord,
  StaleFenceError,
  type StateStore,
} from "../../src/state/store.js";
import { FakeClock } from "../helpers/fake-clock.js";

export interface StoreWorld {
  /** A store on the shared backing, running on `clock`. */
  open(clock: FakeClock): StateStore | Promise<StateStore>;
  /** The lease key to test with (a store may place some keys differently). */
  key?: string;
  /** The TTL of the suite's leases (default 5000 ms): short where leases expire in real time. */
  ttlMs?: number;
  /**
   * How far past the asked time a real-time world's hooks may land (default 0): a boundary the
   * suite checks to the millisecond on fake clocks is checked this far from the edge.
   */
  slackMs?: number;
  /**
   * The stores on `clocks` see `ms` pass on them — their timers fire (renewals) and what those
   * started has finished — while the backing's own time stands. Default: the clocks advance.
   */
  tick?(ms: number, clocks: FakeClock[]): Promise<void>;
  /** `ms` pass for the stores on `clocks` and for the backing (renewals fire as it goes). Default: `tick`. */
  elapse?(ms: number, clocks: FakeClock[]): Promise<void>;
  /**
   * The lease `key`, whose holder is frozen, grows `ms` older as the store judges leases, while
   * the stores on `clocks` run on. Default: `tick` (the running clocks judge its age).
   */
  age?(key: string, ms: number, clocks: FakeClock[]): Promise<void>;
}

const DEFAULT_TTL = 5000;
const DEFAULT_KEY = "resource:one";

async function advance(ms: number, clocks: FakeClock[]): Promise<void> {
  for (const clock of clocks) clock.advance(ms);
}

/** The world with every hook filled in. */
function complete(world: StoreWorld) {
  const tick = world.tick ?? advance;
  const ttlMs = world.ttlMs ?? DEFAULT_TTL;
  return {
    open: async (clock: FakeClock) => world.open(clock),
    key: world.key ?? DEFAULT_KEY,
    ttlMs,
    once: { ttlMs, waitMs: 0 },
    slackMs: world.slackMs ?? 0,
    tick,
    elapse: world.elapse ?? tick,
    age: world.age ?? ((_key: string, ms: number, clocks: FakeClock[]) => tick(ms, clocks)),
  };
}

/** A marker of one pair with `checksum`, the same every time but for that. */
export const marker = (checksum: string): Marker => ({
  source: "https://example.test/a",
  destination: "/data/a",
  validators: { etag: '"v1"' },
  algorithm: "sha256",
  checksum,
  destinationSize: 3,
  destinationMtimeMs: 1,
  destinationCtimeMs: 1,
  destinationIno: 2,
  syncedAt: new Date(0).toISOString(),
});

const part = (fence: number): PartRecord => ({
  source: "https://example.test/a",
  validators: { etag: '"v1"' },
  file: { name: ".a.0123456789abcdef.resilient-sync.part", dev: 1, ino: 2, uid: 0, size: 0 },
  fence,
  holder: `holder-${fence}`,
  closed: false,
});

async function held(store: StateStore, key: string, ttlMs: number): Promise<Lease> {
  const lease = await store.acquire(key, { ttlMs, waitMs: 0 });
  assert.ok(lease, `${key} should be free`);
  return lease;
}

export function storeConformance(
  name: string,
  makeWorld: (t: TestContext) => Promise<StoreWorld>,
  options: { skip?: string | false } = {},
): void {
  describe(`StateStore conformance: ${name}`, { skip: options.skip ?? false }, () => {
    test("a lease is exclusive; once released it is free again, and a later holder's fence is higher", async (t) => {
      const world = complete(await makeWorld(t));
      const { key: KEY, once } = world;
      const clock = new FakeClock();
      const a = await world.open(clock);
      const b = await world.open(clock);
      const first = await held(a, KEY, world.ttlMs);
      assert.equal(first.predecessor.ended, "released");
      assert.equal(await b.acquire(KEY, once), undefined, "busy for another store");
      assert.equal(await a.acquire(KEY, once), undefined, "busy for its own store too");
      await first.release();
      await first.release();
      await world.tick(1, [clock]);
      const second = await held(b, KEY, world.ttlMs);
      assert.equal(second.predecessor.ended, "released", "its holder released it");
      assert.ok(second.fence.value > first.fence.value, "the fence grows");
      await second.check();
      await second.release();
    });

    test("a holder that keeps renewing is never taken over", async (t) => {
      const world = complete(await makeWorld(t));
      const { key: KEY, once, ttlMs: TTL } = world;
      const clockA = new FakeClock();
      const clockB = new FakeClock({ start: clockA.now() });
      const a = await world.open(clockA);
      const b = await world.open(clockB);
      const lease = await held(a, KEY, TTL);
      // Four TTLs, in steps of a fifth of it (the renewal period).
      for (let step = 0; step < 20; step += 1) {
        await world.elapse(TTL / 5, [clockA, clockB]);
        assert.equal(await b.acquire(KEY, once), undefined, `taken over after ${step + 1} steps`);
      }
      await lease.check();
      assert.equal(lease.lost.aborted, false);
      await lease.release();
    });

    test("a lease runs for its TTL from when its holder took it, by the clock that dates leases", async (t) => {
      const world = complete(await makeWorld(t));
      const { key: KEY, once, ttlMs: TTL, slackMs } = world;
      // A minute from the machine's clock: a store that dates a new lease by any other clock than
      // the one it was given (a lock file's kernel-made mtime) fails here every time, rather than
      // now and then when that clock lags by a few milliseconds.
      const frozen = new FakeClock({ start: Date.now() + 60_000 });
      const clock = new FakeClock({ start: frozen.now() });
      const a = await world.open(frozen); // never renews: the lease is as old as it was when taken
      const b = await world.open(clock);
      const lease = await held(a, KEY, TTL);
      await world.age(KEY, TTL - 1 - slackMs, [clock]);
      assert.equal(await b.acquire(KEY, once), undefined, "not taken before its TTL ran out");
      await world.age(KEY, 2 + slackMs, [clock]);
      const next = await b.acquire(KEY, once);
      assert.ok(next, "taken once its TTL ran out");
      assert.equal(next.predecessor.ended, "expired");
      await next.release();
      await lease.release();
    });

    test("a holder silent past its TTL is taken over; it then loses its lease and every fenced write", async (t) => {
      const world = complete(await makeWorld(t));
      const { key: KEY, once, ttlMs: TTL } = world;
      const paused = new FakeClock();
      const clock = new FakeClock({ start: paused.now() });
      const a = await world.open(paused);
      const b = await world.open(clock);
      const old = await held(a, KEY, TTL);
      await a.writePart(KEY, part(old.fence.value), old.fence);

      await world.age(KEY, TTL + TTL / 5, [clock]); // the holder is frozen: no renewal
      const next = await b.acquire(KEY, once);
      assert.ok(next, "taken over");
      assert.ok(next.fence.value > old.fence.value);
      assert.deepEqual(next.predecessor, {
        ended: "expired",
        fence: old.fence.value,
        token: old.fence.token,
      });

      await assert.rejects(a.writeMarker("pair", marker("old"), old.fence), StaleFenceError);
      await assert.rejects(a.writePart(KEY, part(old.fence.value), old.fence), StaleFenceError);
      await assert.rejects(a.deletePart(KEY, old.fence), StaleFenceError);
      assert.deepEqual(await b.readPart(KEY), part(old.fence.value), "the refused delete left it");
      await b.writeMarker("pair", marker("new"), next.fence);
      assert.equal((await a.readMarker("pair"))?.checksum, "new");

      await world.tick(TTL, [paused]); // the holder wakes: its next renewal notices
      assert.equal(old.lost.aborted, true, "lost fires at the next renewal");
      assert.ok(old.lost.reason instanceof LeaseLostError);
      await assert.rejects(old.check(), LeaseLostError);
      await old.release(); // must not free the new holder's lease
      assert.equal(await a.acquire(KEY, once), undefined, "still held by the new holder");
      await next.check();
      await next.release();
    });

    test("waitMs waits for a release; an abort ends the wait", async (t) => {
      const world = complete(await makeWorld(t));
      const { key: KEY, ttlMs: TTL } = world;
      const clock = new FakeClock({ autoAdvance: true });
      const store = await world.open(clock);
      const first = await held(store, KEY, TTL);
      const controller = new AbortController();
      const waiting = store.acquire(KEY, { ttlMs: TTL, waitMs: 60_000, signal: controller.signal });
      controller.abort(new Error("stop"));
      await assert.rejects(waiting, /stop/);
      const waiter = await world.open(new FakeClock({ autoAdvance: true }));
      // A minute of the waiter's (instant) time: many tries, so a store whose tries are round
      // trips still sees the release land while it waits.
      const later = waiter.acquire(KEY, { ttlMs: 60_000, waitMs: 60_000 });
      await first.release();
      const taken = await later;
      assert.ok(taken, "taken once released");
      await taken.release();
    });

    test("markers and part records round-trip under a held fence; unknown keys are empty", async (t) => {
      const world = complete(await makeWorld(t));
      const { key: KEY } = world;
      const store = await world.open(new FakeClock());
      assert.equal(await store.readMarker("nothing"), undefined);
      assert.equal(await store.readPart("nothing"), undefined);
      assert.deepEqual(await store.readCircuit("http://nowhere:80"), {
        state: "closed",
        failures: 0,
      });
      const lease = await held(store, KEY, world.ttlMs);
      await store.writeMarker("pair", marker("abc"), lease.fence);
      await store.writePart(KEY, part(lease.fence.value), lease.fence);
      assert.deepEqual(await store.readMarker("pair"), marker("abc"));
      assert.deepEqual(await store.readPart(KEY), part(lease.fence.value));
      await store.deletePart(KEY, lease.fence);
      assert.equal(await store.readPart(KEY), undefined);
      await lease.release();
      await assert.rejects(store.writeMarker("pair", marker("late"), lease.fence), StaleFenceError);
    });

    test("a marker reads the same whatever was read before it: one there, one missing", async (t) => {
      // The file store looks for the next marker the way that paid for the last one (it was
      // there, or it was not): every order of the two must read right.
      const world = complete(await makeWorld(t));
      const store = await world.open(new FakeClock());
      const lease = await held(store, world.key, world.ttlMs);
      await store.writeMarker("there", marker("abc"), lease.fence);
      const reads = ["missing", "there", "there", "missing", "missing", "there", "missing"];
      for (const key of reads) {
        const expected = key === "there" ? marker("abc") : undefined;
        assert.deepEqual(await store.readMarker(key), expected, `${key} after the read before`);
      }
      await lease.release();
    });

    test("writeMarkerAndRelease writes the marker and frees the lease; a stale fence writes nothing", async (t) => {
      const world = complete(await makeWorld(t));
      const { key: KEY, once } = world;
      const store = await world.open(new FakeClock());
      if (!store.writeMarkerAndRelease) return; // optional: writeMarker + release do the same
      const lease = await held(store, KEY, world.ttlMs);
      await store.writeMarkerAndRelease("pair", marker("abc"), lease);
      assert.deepEqual(await store.readMarker("pair"), marker("abc"), "exactly the marker");
      const other = await world.open(new FakeClock());
      const next = await held(other, KEY, world.ttlMs); // free at once
      await lease.release(); // a no-op now: must not free the next holder's lease
      assert.equal(await store.acquire(KEY, once), undefined, "still held by the next holder");
      await assert.rejects(
        store.writeMarkerAndRelease("pair", marker("late"), lease),
        StaleFenceError,
      );
      assert.equal((await store.readMarker("pair"))?.checksum, "abc");
      await next.check();
      await next.release();
    });

    test("circuit updates are atomic: concurrent updates from two stores lose none", async (t) => {
      const world = complete(await makeWorld(t));
      const stores = [
        await world.open(new FakeClock({ autoAdvance: true })),
        await world.open(new FakeClock({ autoAdvance: true })),
      ];
      const origin = "http://origin.test:80";
      const bump = (state: CircuitState): CircuitState => ({
        state: "closed",
        failures: state.failures + 1,
      });
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          (stores[i % 2] as StateStore).updateCircuit(origin, bump),
        ),
      );
      assert.equal((await (stores[0] as StateStore).readCircuit(origin)).failures, 40);
    });
  });
}
