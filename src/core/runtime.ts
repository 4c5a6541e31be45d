/**
 * `Runtime`: everything a job needs from the world, passed in. The core never picks a concrete
 * class; `run/runtime.ts` is the one place that does (the CLI and `sync()` go through it), and
 * tests build their own from the memory store, a fake clock and fake sources.
 */
import type { Clock } from "../clock.js";
import type { DestinationDriver } from "../destinations/destination.js";
import type { Failpoint } from "../failpoints.js";
import type { OriginHealth } from "../health/origin-health.js";
import type { Logger } from "../log/events.js";
import type { BandwidthLimit } from "../policies/bandwidth.js";
import type { Source } from "../sources/source.js";
import type { StateStore } from "../state/store.js";
import type { ProgressEvent } from "./progress.js";
import type { JobSource } from "./spec.js";

export interface SourceDrivers {
  /** A reader for `source`, with whatever credentials the runtime holds for it. */
  open(source: JobSource): Source;
}

export interface Runtime {
  clock: Clock;
  logger: Logger;
  /** `[0, 1)`, for backoff jitter. */
  random: () => number;
  store: StateStore;
  health: OriginHealth;
  sources: SourceDrivers;
  destinations: DestinationDriver;
  /** A lease holder silent for this long may be taken over (it renews every fifth of it). */
  leaseTtlMs: number;
  onProgress?: (event: ProgressEvent) => void;
  /** `--limit-rate`: one bandwidth limit for every body byte of the run (absent: no limit). */
  limiter?: Pick<BandwidthLimit, "take">;
  /** `--backoff-factor`: multiplies every backoff delay (absent: 1). */
  backoffFactor?: number;
  /** For the project's own tests only: crash points and faster backoff. Not an option users set. */
  testHooks?: { failpoint?: Failpoint; delayScale?: number };
}
