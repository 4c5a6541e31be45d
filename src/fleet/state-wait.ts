/**
 * A fleet job that failed because the workers' state store (`--state`) was unreachable (or lost
 * the job's lease with nobody else taking it) is not a failure of its pair: nothing was
 * committed on a lease the store could not confirm, and the same job succeeds once the store is
 * back. A worker waits for the store and runs such a job again, rather than reporting it failed:
 * a restart or a failover of that Redis pauses the batch instead of failing the jobs taken
 * meanwhile. A local run has no one to wait for it and reports the failure (`write_error`).
 */
import type { Clock } from "../clock.js";
import { failureOf, type SourceResult } from "../core/result.js";
import { type EventFields, type Level, type Logger, type Message, takes } from "../log/events.js";
import { LeaseLostError, StateUnavailableError } from "../state/store.js";

/**
 * How long a worker waits for its state store, counted from the first job that failed for it
 * (one clock for all of the worker's jobs, started again once a job gets past the store): after
 * that its jobs are reported failed (`write_error`) at once, as without any wait. Longer than a
 * restart or a failover (seconds to a minute); short enough that `enqueue --wait` does not hang
 * on a store gone for good.
 */
export const STATE_PATIENCE_MS = 5 * 60_000;
/** The pause before a job runs again, doubled up to the last: a store that answers `PING` but refuses commands is not hammered. */
const PAUSES_MS = [1_000, 2_000, 4_000, 8_000, 15_000];

/** When the worker's jobs began to fail for the state store: one outage, whatever job met it. */
export class StateOutage {
  #since: number | undefined;

  constructor(private readonly clock: Clock) {}

  /** The outage's start: now, unless one is under way. */
  began(): number {
    this.#since ??= this.clock.monotonic();
    return this.#since;
  }

  /** A job got past the store: the next failure starts a new outage. */
  ended(): void {
    this.#since = undefined;
  }
}

export interface StateWait {
  /** Resolves once the store's connection is ready again; rejects when `signal` aborts. */
  untilReachable(signal: AbortSignal): Promise<void>;
  outage: StateOutage;
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
 * Runs `run` (one job, given the logger to use) and, while its result failed for the state
 * store and the worker's patience lasts, waits for the store and runs it again; resolves to the
 * last result. A round's `synchronization failed` line is held back: the job is not failed, and
 * `job waiting for the state store` (a warning) gives the reason; the last round's is logged.
 * Rejects with the signal's reason when it aborts.
 */
export async function runWhileStateAway(
  run: (logger: Logger) => Promise<SourceResult>,
  wait: StateWait,
): Promise<SourceResult> {
  const { clock, signal, outage } = wait;
  for (let round = 0; ; round += 1) {
    const failures = new HeldFailures(wait.logger);
    const result = await run(failures.logger);
    if (!failedForState(result)) {
      outage.ended();
      failures.release();
      return result;
    }
    const left = outage.began() + STATE_PATIENCE_MS - clock.monotonic();
    if (left <= 0) {
      failures.release();
      return result;
    }
    wait.logger.emit("warning", "job waiting for the state store", {
      ...wait.job,
      reason: result.error?.message ?? "",
      round: round + 1,
    });
    const pause = PAUSES_MS[Math.min(round, PAUSES_MS.length - 1)] as number;
    await clock.sleep(Math.min(pause, left), signal);
    const lapsed = new AbortController();
    const cancel = clock.after(
      Math.max(0, outage.began() + STATE_PATIENCE_MS - clock.monotonic()),
      () => lapsed.abort(),
    );
    try {
      await wait.untilReachable(AbortSignal.any([signal, lapsed.signal]));
    } catch {
      if (signal.aborted) throw signal.reason;
      // The patience ran out, or the wait itself failed: the store counts as still away, and
      // the next round (after its pause) tells; the last round's failure is reported.
    } finally {
      cancel();
    }
  }
}

/** A logger that holds back `synchronization failed` until `release`; everything else passes. */
class HeldFailures {
  readonly #held: [Level, Message, unknown][] = [];
  readonly logger: Logger;

  constructor(private readonly target: Logger) {
    this.logger = {
      emit: (level, message, fields) => {
        if (message === "synchronization failed") this.#held.push([level, message, fields]);
        else target.emit(level, message, fields);
      },
      enabled: (level) => takes(target, level),
    };
  }

  release(): void {
    for (const [level, message, fields] of this.#held) {
      this.target.emit(level, message, fields as EventFields[typeof message]);
    }
  }
}
