/**
 * What a segmented attempt needs from the job around it: `--split`, the attempt budget, the
 * origin's pace (every segment's request waits for its start slot, as any request to that
 * origin does), the backoff, the clock and the log.
 */
import type { Cancel } from "../clock.js";
import type { Logger } from "../log/events.js";
import { backoffDelayMs } from "../policies/backoff.js";
import type { JobContext } from "./context.js";

/** Segment progress is made durable and recorded this often (see `checkpoints.ts`). */
const CHECKPOINT_MS = 1000;

/** One transfer's settings for its segmented attempts (`splitSettingsFor`). */
export interface SplitSettings {
  /** `--split`: connections at most; 1 never splits a fresh download (a kept split part still resumes). */
  readonly connections: number;
  /** The transfer's attempt budget: at 1, a segment is never asked again within an attempt. */
  readonly maxAttempts: number;
  /** Waits for the origin's next start slot (the pace a "slow down" set; at once otherwise). */
  startSlot(signal: AbortSignal): Promise<void>;
  /** The origin accepted a request: its pace may quicken. */
  accepted(): void;
  /** The origin said "slow down" (429, 503 with Retry-After): its pace slows, for every worker. */
  throttled(retryAfterMs: number | undefined): void;
  /** The wait before a segment cut after progress is asked again (the backoff started over). */
  retryDelayMs(): number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  every(ms: number, fn: () => void): Cancel;
  readonly checkpointMs: number;
  readonly logger: Logger;
  readonly names: { source: string; destination: string };
  /**
   * Set when a server that said `Accept-Ranges: bytes` answered a range with the whole file, or
   * a segment came back from another version: the rest of this transfer goes in one stream. The
   * only state that outlives an attempt.
   */
  refused: boolean;
}

/** The settings of one job's transfer; `maxAttempts`: its budget (1 for a circuit's probe). */
export function splitSettingsFor(context: JobContext, maxAttempts: number): SplitSettings {
  const { runtime, spec, names } = context;
  const origin = spec.source.origin;
  const { gate } = runtime.health;
  const scale = runtime.testHooks?.delayScale ?? 1;
  return {
    connections: spec.split ?? 1,
    maxAttempts,
    startSlot: async (signal) => {
      const wait = gate.reserveStart(origin, runtime.clock.monotonic());
      if (wait > 0) await runtime.clock.sleep(wait * scale, signal);
    },
    accepted: () => gate.accepted(origin),
    throttled: (retryAfterMs) => gate.throttle(origin, runtime.clock.monotonic(), retryAfterMs),
    retryDelayMs: () => Math.round(backoffDelayMs(1, runtime.random) * scale),
    sleep: (ms, signal) => runtime.clock.sleep(ms, signal),
    every: (ms, fn) => runtime.clock.every(ms, fn),
    checkpointMs: CHECKPOINT_MS,
    logger: runtime.logger,
    names,
    refused: false,
  };
}
