/**
 * The run's bandwidth limit (`--limit-rate`) on a fake clock: the rate held over time, the burst
 * bounded, waiters released in order (no transfer starves), an abort while waiting.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BandwidthLimit, defaultBurst } from "../../src/policies/bandwidth.js";
import { FakeClock } from "../helpers/fake-clock.js";

/** Lets every promise callback that is ready run (timers of the fake clock are not involved). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("bandwidth limit", () => {
  test("the default burst is an eighth of a second's worth, never below 64 KiB", () => {
    assert.equal(defaultBurst(1024 * 1024), 128 * 1024);
    assert.equal(defaultBurst(1000), 64 * 1024);
    assert.equal(new BandwidthLimit(new FakeClock(), 8 * 1024 ** 3).burst, 1024 ** 3);
  });

  test("refuses a rate or a burst that is not positive", () => {
    for (const rate of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
      assert.throws(() => new BandwidthLimit(new FakeClock(), rate), RangeError);
    assert.throws(() => new BandwidthLimit(new FakeClock(), 100, 0), RangeError);
  });

  test("holds the rate over time: by any moment t, at most burst + rate × t bytes were let through", async () => {
    const clock = new FakeClock({ autoAdvance: true });
    const limit = new BandwidthLimit(clock, 100_000, 10_000);
    let total = 0;
    const grants: { at: number; total: number }[] = [];
    // Chunks of uneven sizes, as a socket delivers them; bounded: 2000 of them.
    for (let i = 0; i < 2000; i += 1) {
      const chunk = 300 + ((i * 7919) % 1700);
      const wait = limit.take(chunk);
      if (wait) await wait;
      total += chunk;
      grants.push({ at: clock.monotonic(), total });
    }
    for (const grant of grants)
      assert.ok(
        grant.total <= 10_000 + (100_000 * grant.at) / 1000,
        `${grant.total} bytes by ${grant.at} ms`,
      );
    // Nor slower than asked: whole-millisecond waits cost at most 1 ms each.
    const elapsed = clock.monotonic();
    const ideal = ((total - 10_000) / 100_000) * 1000;
    assert.ok(
      elapsed >= ideal && elapsed <= ideal + grants.length,
      `${elapsed} ms, ideal ${ideal}`,
    );
  });

  test("the burst is bounded: a full bucket lets burst bytes through at once, then the next waits; idling never saves more", async () => {
    const clock = new FakeClock();
    const limit = new BandwidthLimit(clock, 1000);
    assert.equal(limit.burst, 64 * 1024);
    assert.equal(limit.take(64 * 1024), undefined, "a full bucket: no wait");
    const wait = limit.take(500);
    assert.ok(wait, "past the burst: a wait");
    let done = false;
    void wait.then(() => {
      done = true;
    });
    clock.advance(499);
    await settle();
    assert.equal(done, false, "500 bytes at 1000 B/s take 500 ms");
    clock.advance(1);
    await settle();
    assert.equal(done, true);
    clock.advance(3_600_000);
    assert.equal(limit.available, 64 * 1024, "an hour idle still holds one burst only");
  });

  test("waiters are released in the order they came (FIFO)", async () => {
    const clock = new FakeClock();
    const limit = new BandwidthLimit(clock, 1000, 1000);
    assert.equal(limit.take(1000), undefined);
    const released: string[] = [];
    for (const name of ["a", "b", "c"]) {
      const wait = limit.take(1000);
      assert.ok(wait);
      void wait.then(() => released.push(name));
    }
    for (const [ms, expected] of [
      [999, []],
      [1, ["a"]],
      [1000, ["a", "b"]],
      [1000, ["a", "b", "c"]],
    ] as const) {
      clock.advance(ms);
      await settle();
      assert.deepEqual(released, expected);
    }
  });

  test("workers share the rate fairly; one that joins late is served at once, not starved", async () => {
    const clock = new FakeClock();
    const limit = new BandwidthLimit(clock, 10_000, 4096);
    const got: Record<string, number> = { a: 0, b: 0, late: 0 };
    const firstServedAt: Record<string, number> = {};
    let stop = false;
    const worker = async (name: string, joinAt: number) => {
      while (clock.monotonic() < joinAt) await clock.sleep(10);
      while (!stop) {
        const wait = limit.take(1000);
        if (wait) await wait;
        got[name] = (got[name] ?? 0) + 1000;
        firstServedAt[name] ??= clock.monotonic();
      }
    };
    const workers = [worker("a", 0), worker("b", 0), worker("late", 10_000)];
    // 20 s of simulated time, 10 ms a step: bounded.
    for (let step = 0; step < 2000; step += 1) {
      clock.advance(10);
      await settle();
    }
    stop = true;
    clock.advance(10_000);
    await settle();
    await Promise.all(workers);
    const total = (got.a ?? 0) + (got.b ?? 0) + (got.late ?? 0);
    assert.ok(total <= 4096 + 10_000 * 30, `${total} bytes`);
    // a and b shared 10 s alone (50 000 bytes each), then three ways for 10 s (33 333 each);
    // the first to come also had the full bucket (4096 bytes) to itself.
    for (const name of ["a", "b"])
      assert.ok(Math.abs((got[name] ?? 0) - 83_333) <= 4096 + 2000, `${name}: ${got[name]}`);
    assert.ok(Math.abs((got.a ?? 0) - (got.b ?? 0)) <= 4096 + 1000, `a ${got.a}, b ${got.b}`);
    assert.ok(Math.abs((got.late ?? 0) - 33_333) <= 2000, `late: ${got.late}`);
    // Behind at most the chunks already queued by the others (one each): 0.3 s.
    assert.ok((firstServedAt.late ?? Number.POSITIVE_INFINITY) <= 10_000 + 300, "late is served");
  });

  test("an abort while waiting rejects with its reason and leaves no timer; the bytes stay charged", async () => {
    const clock = new FakeClock();
    const limit = new BandwidthLimit(clock, 1000, 1000);
    assert.equal(limit.take(1000), undefined);
    const controller = new AbortController();
    const wait = limit.take(2000, controller.signal);
    assert.ok(wait);
    assert.equal(clock.pendingTimers, 1);
    const reason = new Error("stopped");
    controller.abort(reason);
    await assert.rejects(wait, (error) => error === reason);
    assert.equal(clock.pendingTimers, 0, "the timer is gone");
    // Those 2000 bytes did arrive: the next charge waits behind them.
    assert.equal(limit.available, -2000);
    const next = limit.take(1);
    assert.ok(next);
    let done = false;
    void next.then(() => {
      done = true;
    });
    clock.advance(2000);
    await settle();
    assert.equal(done, false);
    clock.advance(1);
    await settle();
    assert.equal(done, true);
  });

  test("an already aborted signal rejects at once", async () => {
    const clock = new FakeClock();
    const limit = new BandwidthLimit(clock, 1000, 1000);
    const controller = new AbortController();
    controller.abort(new Error("gone"));
    const wait = limit.take(5000, controller.signal);
    assert.ok(wait);
    await assert.rejects(wait, /gone/);
    assert.equal(clock.pendingTimers, 0);
  });
});
