/**
 * The run's one abort signal: the caller's (SIGINT or SIGTERM in the CLI) or the `--deadline`,
 * whichever comes first. The deadline bounds the whole run, the listing of remote directories
 * included.
 */
import { setMaxListeners } from "node:events";
import { type Clock, timeoutSignal } from "../clock.js";
import { SyncError } from "../errors.js";

/**
 * The signal, and `cancel` to disarm the deadline's timer once the run is over (a no-op without
 * a deadline). `maxWorkers` sizes its listener limit.
 */
export function runSignal(
  clock: Clock,
  deadlineMs: number | undefined,
  callerSignal: AbortSignal | undefined,
  maxWorkers: number,
): { signal: AbortSignal; cancel: () => void } {
  const deadline =
    deadlineMs === undefined
      ? undefined
      : timeoutSignal(
          clock,
          deadlineMs,
          () => new SyncError("deadline", `run deadline of ${deadlineMs / 1000} s passed`),
        );
  const signal = AbortSignal.any([
    ...(deadline ? [deadline.signal] : []),
    ...(callerSignal ? [callerSignal] : []),
  ]);
  // Each worker listens here while it waits, paces or runs a job (one at a time, measured): Node's
  // "possible EventTarget memory leak" warning at eleven was a false alarm above ten workers. The
  // limit stays, with room, so that a real leak (one per file) is still reported.
  setMaxListeners(2 * maxWorkers + 10, signal);
  return { signal, cancel: () => deadline?.cancel() };
}
