/**
 * A fleet job that failed because the workers' state store (`--state`) was unreachable (or lost
 * the job's lease with nobody else taking it) is not a failure of its pair: nothing was committed on a lease the store could not confirm, and the
 * same job succeeds once the store is back. A worker waits for the store and runs such a job
 * again, for up to `STATE_PATIENCE_MS`, rather than reporting it failed: a restart or a failover
 * of that Redis pauses the batch instead of failing the jobs taken meanwhile. A local run has no
 * one to wait for it and reports the failure (`write_error`) as before.
 */
import type { Clock } from "../clock.js";
import { failureOf, type SourceResult } from "../core/result.js";
import type { Logger } from "../log/events.js";
import { LeaseLostError, StateUnavailableError } from "../state/store.js";

/**
 * How long one job waits, in all, for its state store to come back; after that it is reported
 * failed (`write_error`), as it was before any wait. Longer than a restart or a failover (seconds
 * to a minute); short enough that `enqueue --wait` does not hang on a store gone for good.
 */
export const STATE_PATIENCE_MS = 5 * 60_000;
/** The pause before a job runs again, doubled each time up to the last: a store that answers `PING` but refuses commands is not hammered. */
const PAUSES_MS = [1_000, 2_000, 4_000, 8_000, 15_000];

export interface StateWait {
  /** Resolves once the store's connection is ready again; rejects when `signal` aborts. */
  untilReachable(signal: AbortSignal): Promise<void>;
  clock: Clock;
  /** The job's logger, and the job its lines name. */
  logger: Logger;
  job: { job_id: string; source: string; destination: string };
  /** The job's: aborting it ends the wait with its reason (the job is handed back). */
  signal: AbortSignal;
}

/**
 * Whether `result` failed because the state store could not be asked, or no longer had the
 * job's lease though nobody else took it (a store restarted without persistence, a lease that
 * lapsed during the outage): nothing was committed and nobody else is on the destination.
 */
export function failedForState(result: SourceResult): boolean {
  if (result.status !== "failed") return false;
  let error: unknown = failureOf(result);
  for (let depth = 0; depth < 8 && error instanceof Error; depth += 1) {
    if (error instanceof StateUnavailableError) return true;
    if (error instanceof LeaseLostError && !error.takenOver) return true;
    error = error.cause;
  }
  return false;
}

/**
 * Runs `run` (one job) and, while its result failed for the state store, waits for the store and
 * runs it again; resolves to the last result. Rejects with the signal's reason when it aborts.
 */
export async function runWhileStateAway(
  run: () => Promise<SourceResult>,
  wait: StateWait,
): Promise<SourceResult> {
  const { clock, signal } = wait;
  let result = await run();
  const giveUpAt = clock.monotonic() + STATE_PATIENCE_MS;
  for (let round = 0; failedForState(result); round += 1) {
    const left = giveUpAt - clock.monotonic();
    if (left <= 0) return result;
    wait.logger.emit("warning", "job waiting for the state store", {
      ...wait.job,
      reason: result.error?.message ?? "",
      round: round + 1,
    });
    await clock.sleep(
      Math.min(PAUSES_MS[Math.min(round, PAUSES_MS.length - 1)] as number, left),
      signal,
    );
    const lapsed = new AbortController();
    const cancel = clock.after(Math.max(0, giveUpAt - clock.monotonic()), () => lapsed.abort());
    try {
      await wait.untilReachable(AbortSignal.any([signal, lapsed.signal]));
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (lapsed.signal.aborted) return result;
      throw error;
    } finally {
      cancel();
    }
    result = await run();
  }
  return result;
}
