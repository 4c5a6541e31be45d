/**
 * After the TTL, one probe is let through — one for everyone sharing the state store, however
 * many runs and workers ask at once (the decision is made inside the store's atomic update).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Circuits } from "../../src/health/circuits.js";
import { silentLogger } from "../../src/log/events.js";
import { MemoryBacking, MemoryStateStore } from "../../src/state/memory-store.js";
import { FakeClock } from "../helpers/fake-clock.js";

test("of many runs asking past the TTL, exactly one becomes the probe; the rest are refused", async () => {
  const clock = new FakeClock();
  const backing = new MemoryBacking();
  const origin = "https://down.test:443";
  backing.circuits.set(origin, {
    state: "open",
    failures: 1,
    openedAt: clock.now(),
    openUntil: clock.now() + 1000,
  });
  clock.advance(2000);
  const runs = Array.from(
    { length: 4 },
    () =>
      new Circuits(new MemoryStateStore(clock, backing), clock, silentLogger, {
        ttlMs: 1000,
        threshold: 1,
      }),
  );
  const decisions = await Promise.all(
    Array.from({ length: 20 }, (_, i) => (runs[i % 4] as Circuits).admit(origin, "s")),
  );
  const counts = decisions.reduce<Record<string, number>>((all, { decision }) => {
    all[decision] = (all[decision] ?? 0) + 1;
    return all;
  }, {});
  assert.deepEqual(counts, { probe: 1, reject: 19 });
  assert.equal(backing.circuits.get(origin)?.state, "half_open");
});
