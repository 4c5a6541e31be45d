/**
 * One suite every `StateStore` must pass (in the spirit of rclone's fstests): leases, fences,
 * takeovers of silent holders, fenced records, atomic circuit updates. `world` opens stores that
 * share one backing — like processes sharing a folder or a Redis — each with its own clock, so a
 * holder can be frozen (paused) while time passes for the others.
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
  open(clock: FakeClock): StateStore;
  /** The lease key to test with (a store may place some keys differently). */
  key?: string;
}

const TTL = 5000;
const DEFAULT_KEY = "resource:one";
const once = { ttlMs: TTL, waitMs: 0 };

const marker = (checksum: string): Marker => ({
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

async function held(store: StateStore, key: string): Promise<Lease> {
  const lease = await store.acquire(key, once);
  assert.ok(lease, `${key} should be free`);
  return lease;
}

export function storeConformance(
  name: string,
  makeWorld: (t: TestContext) => Promise<StoreWorld>,
): void {
  describe(`StateStore conformance: ${name}`, () => {
    test("a lease is exclusive; once released it is free again, and a later holder's fence is higher", async (t) => {
      const world = await makeWorld(t);
      const KEY = world.key ?? DEFAULT_KEY;
      const clock = new FakeClock();
      const a = world.open(clock);
      const b = world.open(clock);
      const first = await held(a, KEY);
      assert.equal(first.predecessor.ended, "released");
      assert.equal(await b.acquire(KEY, once), undefined, "busy for another store");
      assert.equal(await a.acquire(KEY, once), undefined, "busy for its own store too");
      await first.release();
      await first.release();
      clock.advance(1);
      const second = await held(b, KEY);
      assert.ok(second.fence.value > first.fence.value, "the fence grows");
      await second.check();
      await second.release();
    });

    test("a holder that keeps renewing is never taken over", async (t) => {
      const world = await makeWorld(t);
      const KEY = world.key ?? DEFAULT_KEY;
      const clockA = new FakeClock();
      const clockB = new FakeClock({ start: clockA.now() });
      const a = world.open(clockA);
      const b = world.open(clockB);
      const lease = await held(a, KEY);
      for (let second = 0; second < 20; second += 1) {
        clockA.advance(1000);
        clockB.advance(1000);
        assert.equal(await b.acquire(KEY, once), undefined, `taken over after ${second + 1} s`);
      }
      await lease.check();
      assert.equal(lease.lost.aborted, false);
      await lease.release();
    });

    test("a lease runs for its TTL from when its holder took it, by the store's clock", async (t) => {
      const world = await makeWorld(t);
      const KEY = world.key ?? DEFAULT_KEY;
      // A minute from the machine's clock: a store that dates a new lease by any other clock than
      // the one it was given (a lock file's kernel-made mtime) fails here every time, rather than
      // now and then when that clock lags by a few milliseconds.
      const frozen = new FakeClock({ start: Date.now() + 60_000 });
      const clock = new FakeClock({ start: frozen.now() });
      const a = world.open(frozen); // never renews: the lease is as old as it was when taken
      const b = world.open(clock);
      const lease = await held(a, KEY);
      clock.advance(TTL - 1);
      assert.equal(await b.acquire(KEY, once), undefined, "not taken before its TTL ran out");
      clock.advance(2);
      const next = await b.acquire(KEY, once);
      assert.ok(next, "taken once its TTL ran out");
      assert.equal(next.predecessor.ended, "expired");
      await next.release();
      await lease.release();
    });

    test("a holder silent past its TTL is taken over; it then loses its lease and every fenced write", async (t) => {
      const world = await makeWorld(t);
      const KEY = world.key ?? DEFAULT_KEY;
      const paused = new FakeClock();
      const clock = new FakeClock({ start: paused.now() });
      const a = world.open(paused);
      const b = world.open(clock);
      const old = await held(a, KEY);
      await a.writePart(KEY, part(old.fence.value), old.fence);

      clock.advance(TTL + 1000); // the holder is frozen: no renewal
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
      await b.writeMarker("pair", marker("new"), next.fence);
      assert.equal((await a.readMarker("pair"))?.checksum, "new");

      paused.advance(TTL); // the holder wakes: its next renewal notices
      assert.equal(old.lost.aborted, true, "lost fires at the next renewal");
      assert.ok(old.lost.reason instanceof LeaseLostError);
      await assert.rejects(old.check(), LeaseLostError);
      await old.release(); // must not free the new holder's lease
      assert.equal(await a.acquire(KEY, once), undefined, "still held by the new holder");
      await next.check();
      await next.release();
    });

    test("waitMs waits for a release; an abort ends the wait", async (t) => {
      const world = await makeWorld(t);
      const KEY = world.key ?? DEFAULT_KEY;
      const clock = new FakeClock({ autoAdvance: true });
      const store = world.open(clock);
      const first = await held(store, KEY);
      const controller = new AbortController();
      const waiting = store.acquire(KEY, { ttlMs: TTL, waitMs: 60_000, signal: controller.signal });
      controller.abort(new Error("stop"));
      await assert.rejects(waiting, /stop/);
      const waiter = world.open(new FakeClock({ autoAdvance: true }));
      const later = waiter.acquire(KEY, { ttlMs: 60_000, waitMs: 1000 });
      await first.release();
      const taken = await later;
      assert.ok(taken, "taken once released");
      await taken.release();
    });

    test("markers and part records round-trip under a held fence; unknown keys are empty", async (t) => {
      const world = await makeWorld(t);
      const KEY = world.key ?? DEFAULT_KEY;
      const store = world.open(new FakeClock());
      assert.equal(await store.readMarker("nothing"), undefined);
      assert.equal(await store.readPart("nothing"), undefined);
      assert.deepEqual(await store.readCircuit("http://nowhere:80"), {
        state: "closed",
        failures: 0,
      });
      const lease = await held(store, KEY);
      await store.writeMarker("pair", marker("abc"), lease.fence);
      await store.writePart(KEY, part(lease.fence.value), lease.fence);
      assert.deepEqual(await store.readMarker("pair"), marker("abc"));
      assert.deepEqual(await store.readPart(KEY), part(lease.fence.value));
      await store.deletePart(KEY, lease.fence);
      assert.equal(await store.readPart(KEY), undefined);
      await lease.release();
      await assert.rejects(store.writeMarker("pair", marker("late"), lease.fence), StaleFenceError);
    });

    test("writeMarkerAndRelease writes the marker and frees the lease; a stale fence writes nothing", async (t) => {
      const world = await makeWorld(t);
      const KEY = world.key ?? DEFAULT_KEY;
      const store = world.open(new FakeClock());
      if (!store.writeMarkerAndRelease) return; // optional: writeMarker + release do the same
      const lease = await held(store, KEY);
      await store.writeMarkerAndRelease("pair", marker("abc"), lease);
      assert.deepEqual(await store.readMarker("pair"), marker("abc"), "exactly the marker");
      const other = world.open(new FakeClock());
      const next = await held(other, KEY); // free at once
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
      const world = await makeWorld(t);
      const stores = [
        world.open(new FakeClock({ autoAdvance: true })),
        world.open(new FakeClock({ autoAdvance: true })),
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
