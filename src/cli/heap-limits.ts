/**
 * V8 heap settings for the CLI's own process, chosen for long batches (docs/performance.md,
 * "The main thread's young generation"). The library never calls this: a host's heap is its
 * host's business.
 *
 * - Old space grows to 1.2× what is live after a full collection (`--heap-growing-percent=20`)
 *   instead of V8's several times: a 100,000-file run stays near its live size.
 * - The young generation stops at 4 MiB semi-spaces. V8 doubles them under allocation up to
 *   16 MiB each (32 MiB of RSS) within a second or two of any batch. Their limit
 *   (`--max-semi-space-size`) can only be given when Node starts, but the growth factor is read
 *   at each growth, so it is steered instead: one growth to 4 MiB, then none — what
 *   `node --max-semi-space-size=4` gives. Frozen at V8's initial 1 MiB instead, a 100,000-URL
 *   run paid ~10 % more CPU in scavenges; at 4 MiB, W1 and W2 measured no cost.
 *
 * Best effort by nature: V8 offers no synchronous hook, so a growth inside a long synchronous
 * stretch can go further before the freeze lands; it never goes past V8's own default.
 * A setting the user gave to `node` itself (on its command line or in `NODE_OPTIONS`) wins.
 */
import { PerformanceObserver } from "node:perf_hooks";
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";

/** Semi-space size at which the young generation stops growing. */
const SEMI_SPACE_CAP_BYTES = 4 << 20;

/** Applies both settings to this process, except those the user set when starting Node. */
export function limitHeapForBatches(
  nodeFlags: readonly string[] = [
    ...process.execArgv,
    ...(process.env.NODE_OPTIONS ?? "").split(/\s+/),
  ],
): void {
  const given = (name: string) =>
    nodeFlags.some((flag) => flag.replaceAll("_", "-").startsWith(name));
  if (!given("--heap-growing-percent")) setFlagsFromString("--heap-growing-percent=20");
  if (!given("--max-semi-space-size") && !given("--semi-space-growth-factor"))
    stopYoungGenerationAt(SEMI_SPACE_CAP_BYTES);
}

/** Both semi-spaces together, as V8 reports the new space's size. */
function newSpaceBytes(): number {
  for (const space of getHeapSpaceStatistics())
    if (space.space_name === "new_space") return space.space_size;
  return 0;
}

/**
 * Lets the semi-spaces grow once, straight to `semiSpaceBytes`, then never again. V8 grows them
 * by its growth factor, read at each growth: set so that one growth reaches the cap, and set to
 * 1 at the first turn of the event loop after it. One step matters: a growth can happen in any
 * collection, also in a long synchronous stretch (planning a 100,000-line list holds the loop for
 * ~0.4 s) where no callback runs; step by step (×2 each time) the semi-spaces reached their
 * 16 MiB maximum inside such a stretch. The first growth comes during start-up, while the loop
 * still turns every few milliseconds. No polling, no timer: the observer does not keep the
 * process alive, and it is disconnected once its work is done.
 */
function stopYoungGenerationAt(semiSpaceBytes: number): void {
  const semiSpace = () => newSpaceBytes() / 2;
  const freeze = () => setFlagsFromString("--semi-space-growth-factor=1");
  const now = semiSpace();
  if (now === 0 || now >= semiSpaceBytes) {
    freeze();
    return;
  }
  setFlagsFromString(`--semi-space-growth-factor=${Math.ceil(semiSpaceBytes / now)}`);
  const observer = new PerformanceObserver(() => {
    if (semiSpace() <= now) return;
    freeze();
    observer.disconnect();
  });
  observer.observe({ entryTypes: ["gc"] });
}
