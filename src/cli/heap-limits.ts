/**
 * V8 heap settings for the CLI's own process, chosen for long batches (docs/performance.md,
 * "The main thread's young generation"). The library never calls this: a host's heap is its
 * host's business.
 *
 * - Old space grows to 1.2× what is live after a full collection (`--heap-growing-percent=20`)
 *   instead of V8's several times: a 100,000-file run stays near its live size.
 * - The young generation is held at 4 MiB semi-spaces. V8 doubles them under allocation up to
 *   16 MiB each (32 MiB of RSS) within a second or two of any batch. Their limit
 *   (`--max-semi-space-size`) can only be given when Node starts, but the growth factor is read
 *   at each growth, so it is steered instead: whatever size the semi-spaces have, the factor is
 *   the one whose next growth lands on 4 MiB, and 1 once there — what
 *   `node --max-semi-space-size=4` gives, shrinking while idle and growing back included.
 *   Frozen at V8's initial 1 MiB instead, a 100,000-URL run paid ~10 % more CPU in scavenges;
 *   at 4 MiB, W1 and W2 measured no cost.
 *
 * Best effort by nature: V8 offers no synchronous hook, so a growth inside a long synchronous
 * stretch can go further before the factor is reset; it never goes past V8's own default.
 * The observer runs only when the event loop turns — twice: Node queues a `gc` entry on one turn
 * and hands it over on the next — and reading, normalising and planning a long input list is one
 * stretch of synchronous and promise-chained work. With the CLI bundled as one CommonJS file
 * (no module is loaded from disk in that stretch any more), V8 grew the semi-spaces 1 → 4 → 16
 * MiB before the factor could be reset: a 10,000-URL no-op peaked at 99 MiB instead of 76. So
 * the semi-spaces are held at V8's initial 1 MiB (growth factor 1) until the batch is under way
 * — the first result handed on, which is the first pair's (results go out in plan order) — and
 * steered to 4 MiB from then on, when every file's I/O turns the loop.
 * A single large transfer thus runs at 1 MiB throughout: W1 measured the same time and 2–4 MiB
 * less RSS. Its hash thread is why the factor is set again after every collection, and every
 * millisecond while a thread starts: setting up a thread's isolate puts V8's factor back to 2.
 * That, too, is best effort (a collection in the millisecond after the set-up still grows them
 * once); 1 GiB measured 76 MiB of peak RSS with it, 77.6 without (5 alternating runs).
 * A setting the user gave to `node` itself (on its command line or in `NODE_OPTIONS`) wins.
 */
import { subscribe } from "node:diagnostics_channel";
import type { EventEmitter } from "node:events";
import { PerformanceObserver } from "node:perf_hooks";
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";

/** Semi-space size the young generation is held at. */
const SEMI_SPACE_TARGET_BYTES = 4 << 20;

/**
 * Applies both settings to this process, except those the user set when starting Node; called
 * once per process (each call subscribes and observes anew, for good). Returns
 * `underWay`, to be called once the batch's work is under way (the first result handed on; a
 * fleet worker once it is ready; `enqueue` at once): until then the semi-spaces stay at 1 MiB.
 * Calling it again does nothing.
 */
export function limitHeapForBatches(
  nodeFlags: readonly string[] = [
    ...process.execArgv,
    ...(process.env.NODE_OPTIONS ?? "").split(/\s+/),
  ],
): () => void {
  const given = (name: string) => nodeFlags.some((flag) => isFlag(flag, name));
  if (!given("heap-growing-percent")) setFlagsFromString("--heap-growing-percent=20");
  if (given("max-semi-space-size") || given("semi-space-growth-factor")) return () => {};
  let underWay = false;
  // Under way, the factor is the one whose next growth lands on the target (×4 from V8's initial
  // 1 MiB, ×2 from 2 MiB), 1 once there; read again after every collection, because V8 also
  // shrinks the semi-spaces after a few idle seconds and they must be able to grow back.
  // Reported capacities fall a little short of powers of two (page headers): rounded, not ceiled.
  // Set every time (~3 µs), not only when it changes: V8 puts a factor below 2 back to 2 each
  // time it sets up an isolate, and a large transfer's hash thread then let the main thread's
  // semi-spaces grow to 4 MiB during a single transfer (measured, Node 20).
  const steer = () => {
    const now = semiSpaceBytes();
    // No new space by that name (another V8): V8's own growth, rather than a guess.
    if (now === 0) return;
    const wanted = underWay ? Math.max(1, Math.round(SEMI_SPACE_TARGET_BYTES / now)) : 1;
    setFlagsFromString(`--semi-space-growth-factor=${wanted}`);
  };
  // A thread sets up its isolate some time before it is `online` (~50 ms for a hash thread), and
  // the next collection would grow the semi-spaces before the observer hears of it (6 runs of 6
  // of a 256 MiB transfer grew them to 2 MiB): set every millisecond until then (1 run of 9).
  subscribe("worker_threads", (message) => {
    const meanwhile = setInterval(steer, 1);
    meanwhile.unref();
    const stop = () => {
      clearInterval(meanwhile);
      steer();
    };
    const { worker } = message as { worker: EventEmitter };
    worker.once("online", stop);
    worker.once("exit", stop);
  });
  new PerformanceObserver(steer).observe({ entryTypes: ["gc"] });
  steer();
  return () => {
    if (underWay) return;
    underWay = true;
    steer();
  };
}

/**
 * Whether the command-line word `word` sets V8's flag `name`, in any form Node and V8 accept:
 * one or two leading dashes, `_` for `-`, a value after `=`, quoted as in `NODE_OPTIONS`.
 */
export function isFlag(word: string, name: string): boolean {
  const bare = word
    .replace(/^["']|["']$/g, "")
    .replace(/^--?/, "")
    .replaceAll("_", "-");
  return bare === name || bare.startsWith(`${name}=`);
}

/**
 * One semi-space's capacity, as V8 reports the new space's use plus what is still free in it.
 * Not `space_size`: that counts the second semi-space only once a scavenge has committed it.
 */
function semiSpaceBytes(): number {
  for (const space of getHeapSpaceStatistics())
    if (space.space_name === "new_space") return space.space_used_size + space.space_available_size;
  return 0;
}
