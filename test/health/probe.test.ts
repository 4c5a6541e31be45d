/**
 * After the TTL, one probe is let through — one for everyone sharing the state store, however
 * many runs and workers ask at once (the decision is made inside the store's atomic update).
 * Other runs are refused; the probe's own run waits for its verdict.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Circuits } from "../../src/health/circuits.js";
import { silentLogger } from "../../src/log/events.js";
import { MemoryBacking, MemoryStateStore } from "../../src/state/memory-store.js";
import { FakeClock } from "../helpers/fake-clock.js";

/** A circuit of `origin` opened with a TTL of `ttlMs` (1 s), the clock already past it. */
function pastTheTtl(origin: string, ttlMs = 1000) {
  const clock = new FakeClock();
  const backing = new MemoryBacking();
  backing.circuits.set(origin, {
    state: "open",
    failures: 1,
    openedAt: clock.now(),
    openUntil: clock.now() + ttlMs,
  });
  clock.advance(ttlMs + 1000);
  /** One run's circuits over the shared store. */
  const run = (threshold = 1) =>
    new Circuits(new MemoryStateStore(clock, backing), clock, silentLogger, {
      ttlMs,
      threshold,
    });
  return { clock, backing, run };
}

/** A transfer of `run` asking to reach `origin`, with a signal: it may wait for another's probe. */
function asking(run: Circuits, origin: string, source = "w") {
  let decided: string | undefined;
  const decision = run
    .admit(origin, source, new AbortController().signal)
    .then((admission) => (decided = admission.decision));
  return { decision, decided: () => decided };
}

/** Moves `clock` 200 ms a step, a turn of the loop each, until `done` or `steps` steps (bounded). */
async function advanceUntil(clock: FakeClock, done: () => boolean, steps: number) {
  for (let step = 0; step < steps && !done(); step += 1) {
    clock.advance(200);
    for (let turn = 0; turn < 5; turn += 1) await new Promise((resolve) => setImmediate(resolve));
  }
}

test("of many runs asking past the TTL, exactly one probes; other runs are refused, its own wait for its verdict", async () => {
  const origin = "https://down.test:443";
  const { backing, run } = pastTheTtl(origin);
  const runs = Array.from({ length: 4 }, () => run());
  const [prober, ...others] = runs as [Circuits, ...Circuits[]];
  assert.equal((await prober.admit(origin, "s")).decision, "probe");
  const own = Array.from({ length: 4 }, () => prober.admit(origin, "s"));
  let ownDecided = 0;
  for (const decision of own) decision.then(() => (ownDecided += 1));
  const decisions = await Promise.all(
    Array.from({ length: 15 }, (_, i) => (others[i % 3] as Circuits).admit(origin, "s")),
  );
  assert.deepEqual(new Set(decisions.map(({ decision }) => decision)), new Set(["reject"]));
  assert.equal(backing.circuits.get(origin)?.state, "half_open");
  assert.equal(ownDecided, 0, "the probe's own run waits for its verdict");
  await prober.succeeded(origin, "s");
  assert.deepEqual(
    (await Promise.all(own)).map(({ decision }) => decision),
    ["allow", "allow", "allow", "allow"],
  );
});

test("a probe that fails: its run's waiting transfers are refused, the circuit open again", async () => {
  const origin = "https://down.test:443";
  const { backing, run: circuits } = pastTheTtl(origin);
  const run = circuits();
  assert.equal((await run.admit(origin, "s")).decision, "probe");
  const waiting = run.admit(origin, "s");
  await run.failed(origin, "s");
  assert.equal((await waiting).decision, "reject");
  assert.equal(backing.circuits.get(origin)?.state, "open");
});

test("a probe slower than its window, and a second probe meanwhile: those waiting wake at the first verdict", async () => {
  const origin = "http://o:80";
  const { clock, run: circuits } = pastTheTtl(origin);
  const run = circuits(3);
  assert.equal((await run.admit(origin, "p1")).decision, "probe");
  const waiting = run.admit(origin, "w");
  // Its answer is decided in the memory store's promises: settled within a turn of the loop.
  await new Promise((resolve) => setImmediate(resolve));
  clock.advance(1500); // the first probe outlives its window: another caller probes
  assert.equal((await run.admit(origin, "j")).decision, "probe");
  await run.succeeded(origin, "p1");
  assert.equal((await waiting).decision, "allow", "woken by the first verdict, not left waiting");
});

test("a transfer of another run waits for that run's probe: the probe's success admits it (a fleet's other workers failed circuit_open)", async () => {
  const origin = "https://healed.test:443";
  const { clock, run } = pastTheTtl(origin);
  const [prober, other] = [run(), run()];
  assert.equal((await prober.admit(origin, "p")).decision, "probe");
  const waiting = asking(other, origin);
  clock.advance(200);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(waiting.decided(), undefined, "still waiting while the probe is out");
  await prober.succeeded(origin, "p");
  // Bounded: one poll of the store is enough once the verdict is written.
  await advanceUntil(clock, () => waiting.decided() !== undefined, 5);
  assert.equal(await waiting.decision, "allow");
});

test("another run's probe that never answers: the wait ends after its patience, refused as before", async () => {
  const origin = "https://slow.test:443";
  // A TTL of a minute: the probe's window outlasts the wait.
  const { clock, run } = pastTheTtl(origin, 60_000);
  const [prober, other] = [run(), run()];
  assert.equal((await prober.admit(origin, "p")).decision, "probe");
  const waitedFrom = clock.monotonic();
  const waiting = asking(other, origin);
  await advanceUntil(clock, () => waiting.decided() !== undefined, 100);
  assert.equal(await waiting.decision, "reject");
  const waited = clock.monotonic() - waitedFrom;
  assert.ok(waited >= 10_000 && waited < 11_000, `waited ${waited} ms`);
  // The patience is the process's, once per probe: the next transfer is refused at once (each
  // waited its own 10 s, one after another: a batch of 1,000 behind it, 2.8 hours).
  assert.equal((await other.admit(origin, "w2", new AbortController().signal)).decision, "reject");
  assert.equal(clock.monotonic() - waitedFrom, waited, "no further wait");
});

test("transfers waiting for another run's probe share one poll of the store", async () => {
  const origin = "https://shared.test:443";
  const { clock, backing, run } = pastTheTtl(origin);
  const [prober] = [run()];
  assert.equal((await prober.admit(origin, "p")).decision, "probe");
  let reads = 0;
  const store = new MemoryStateStore(clock, backing);
  const readCircuit = store.readCircuit.bind(store);
  store.readCircuit = (key: string) => {
    reads += 1;
    return readCircuit(key);
  };
  const other = new Circuits(store, clock, silentLogger, { ttlMs: 1000, threshold: 1 });
  const waiting = Array.from({ length: 16 }, (_, i) => asking(other, origin, `w${i}`));
  await new Promise((resolve) => setImmediate(resolve));
  const before = reads;
  clock.advance(200);
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(reads - before <= 2, `${reads - before} reads for one poll of 16 waiters`);
  await prober.succeeded(origin, "p");
  await advanceUntil(clock, () => waiting.every((w) => w.decided() !== undefined), 5);
  const decisions = await Promise.all(waiting.map((w) => w.decision));
  assert.deepEqual(new Set(decisions), new Set(["allow"]));
});

test("another run's probe whose window lapses (its prober died): the waiting run probes then, not after its patience", async () => {
  const origin = "https://orphan.test:443";
  const { clock, run } = pastTheTtl(origin);
  const [prober, other] = [run(), run()];
  assert.equal((await prober.admit(origin, "p")).decision, "probe");
  const from = clock.monotonic();
  const waiting = asking(other, origin);
  await advanceUntil(clock, () => waiting.decided() !== undefined, 100);
  assert.equal(await waiting.decision, "probe");
  assert.ok(clock.monotonic() - from <= 1400, `took over after ${clock.monotonic() - from} ms`);
});
