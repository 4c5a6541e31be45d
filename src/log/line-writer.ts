/**
 * Log lines bound for pipes and files, written a few milliseconds' worth at a time.
 *
 * A batch run logs two info lines per file; written one by one, or even one event-loop turn at a
 * time (a turn handles about one file's response), each write is a system call of its own: a
 * 1,000-file no-op run spent about a tenth of its main thread writing log lines 1,150 times.
 * Here info and debug lines wait up to `LINGER_MS` and leave in one write, as a logging library's
 * buffered destination does (pino's sonic-boom); a warning or an error is written at once, with
 * everything before it, because it may be the last thing the process says (a failpoint stops the
 * process right after its warning; a signal's second blow exits). Lines keep their order across
 * the two streams: a line for the other stream first writes out what is pending. What is pending
 * is also written when the process exits (`process.exit`, an uncaught exception, the event loop
 * running dry), so only an end without an 'exit' event — SIGKILL, a signal the CLI does not trap
 * (SIGHUP, SIGQUIT), V8 out of memory — can lose it: at most `LINGER_MS` of info lines. The
 * timer does not keep the process alive, yet fires on time while anything else does: an idle
 * process (a retry's wait) writes its lines after `LINGER_MS`, not when something next wakes it.
 *
 * Only for streams that are not terminals: a terminal's lines and bars are written as they come.
 */
import type { LineSinks } from "./json.js";

/** Pending text beyond which it is written at once (one pipe buffer's worth). */
const FLUSH_AT = 64 * 1024;
/** How long an info line may wait for others to share its write: unnoticeable to a reader. */
export const LINGER_MS = 10;

export interface CoalescedSinks extends LineSinks {
  /** Lines that must not wait (warnings, errors): written at once, with what is pending. */
  urgent: LineSinks;
  /** Writes what is pending now. */
  flush(): void;
}

/** Runs `callback` once after `ms`, without keeping the process alive for it. */
export type Schedule = (callback: () => void, ms: number) => void;

const unrefTimer: Schedule = (callback, ms) => {
  setTimeout(callback, ms).unref();
};

/**
 * Sinks over `out` and `err` that coalesce lines for up to `LINGER_MS`; `flush()` before exiting.
 * `schedule` sets the linger's timer (tests replace it: a loaded machine can take longer than
 * `LINGER_MS` between two turns).
 */
export function coalescedSinks(
  out: (text: string) => void,
  err: (text: string) => void,
  schedule: Schedule = unrefTimer,
): CoalescedSinks {
  let pending = "";
  let target: ((text: string) => void) | undefined;
  let scheduled = false;

  const flush = (): void => {
    if (pending === "" || target === undefined) return;
    const text = pending;
    pending = "";
    target(text);
  };
  const onLingerEnd = (): void => {
    scheduled = false;
    flush();
  };
  const add = (to: (text: string) => void, line: string): void => {
    if (target !== to) flush();
    target = to;
    pending += line;
    if (pending.length >= FLUSH_AT) flush();
    else if (!scheduled) {
      scheduled = true;
      schedule(onLingerEnd, LINGER_MS);
    }
  };
  const now = (to: (text: string) => void, line: string): void => {
    add(to, line);
    flush();
  };
  process.on("exit", flush);
  return {
    out: (line) => add(out, line),
    err: (line) => add(err, line),
    urgent: { out: (line) => now(out, line), err: (line) => now(err, line) },
    flush,
  };
}
