/**
 * V8 heap settings for the CLI's own process, chosen for long batches (docs/performance.md,
 * "Memory of a long batch"). The library never calls this: a host's heap is its own business.
 *
 * - Old space grows to 1.2× what is live after a full collection (`--heap-growing-percent=20`)
 *   instead of V8's several times: a 100,000-file run stays near its live size.
 * - The young generation stops growing once its semi-spaces reach 4 MiB. V8 doubles them under
 *   allocation up to 16 MiB each (32 MiB of RSS) within a second or two of any batch. Their limit
 *   (`--max-semi-space-size`) can only be given when Node starts, but the growth factor is read
 *   at each growth: it is set to 1 once the semi-spaces are 4 MiB, which is what
 *   `node --max-semi-space-size=4` would give. Frozen from the start (1 MiB) instead, a
 *   100,000-URL run paid ~10 % more CPU in scavenges; at 4 MiB, W2 and W1 measured no cost.
 *
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
 * Sets the growth factor to 1 once the semi-spaces have reached `semiSpaceBytes`, checked after
 * each collection until then (a growth happens only in a collection). No polling, no timer: the
 * observer does not keep the process alive, and it is disconnected once its work is done.
 */
function stopYoungGenerationAt(semiSpaceBytes: number): void {
  const reached = () => newSpaceBytes() >= 2 * semiSpaceBytes;
  const freeze = () => setFlagsFromString("--semi-space-growth-factor=1");
  if (reached()) {
    freeze();
    return;
  }
  const observer = new PerformanceObserver(() => {
    if (!reached()) return;
    freeze();
    observer.disconnect();
  });
  observer.observe({ entryTypes: ["gc"] });
}
