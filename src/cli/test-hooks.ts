/** The project's own test hooks, read from the environment: crash points and faster backoff. */
import { type Failpoint, freezeAt } from "../failpoints.js";
import type { Logger } from "../log/events.js";

/**
 * `RESILIENT_SYNC_FAILPOINT` (a point where the process freezes, for crash tests) and
 * `RESILIENT_SYNC_DELAY_SCALE`, which multiplies every backoff and Retry-After delay (0.001 turns
 * a 16 s backoff into 16 ms). Neither is an option users should need.
 */
export function testHooksFromEnv(logger: Logger): {
  delayScale: number;
  failpoint: Failpoint;
} {
  const raw = process.env.RESILIENT_SYNC_DELAY_SCALE;
  const value = raw === undefined ? 1 : Number(raw);
  return {
    delayScale: Number.isFinite(value) && value >= 0 ? value : 1,
    failpoint: freezeAt(process.env.RESILIENT_SYNC_FAILPOINT, logger),
  };
}
