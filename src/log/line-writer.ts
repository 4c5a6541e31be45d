/**
 * Log lines bound for pipes and files, written a turn of the event loop's worth at a time.
 *
 * A batch run logs two info lines per file; written one by one, each is a system call of its own,
 * about 5 % of a 1,000-file run's CPU.
 * Here info and debug lines wait for the end of the current turn and leave in one write; a
 * warning or an error is written at once, with everything before it, because it may be the last
 * thing the process says (a failpoint stops the process right after its warning; a signal's
 * second blow exits). Lines keep their order across the two streams: a line for the other stream
 * first writes out what is pending. What is pending is also written when the process exits
 * (`process.exit`, an uncaught exception), so only an end without an 'exit' event — SIGKILL, a
 * signal the CLI does not trap (SIGHUP, SIGQUIT), V8 out of memory — can lose it: the lines of
 * at most one turn. The turn's end is not `unref`'d: an idle process (a retry's wait) writes its
 * lines at once rather than when something next wakes it.
 *
 * Only for streams that are not terminals: a terminal's lines and bars are written as they come.
 */
import type { LineSinks } from "./json.js";

/** Pending text beyond which it is written at once (one pipe buffer's worth). */
const FLUSH_AT = 64 * 1024;

export interface CoalescedSinks extends LineSinks {
  /** Lines that must not wait (warnings, errors): written at once, with what is pending. */
  urgent: LineSinks;
  /** Writes what is pending now. */
  flush(): void;
}

/** Sinks over `out` and `err` that coalesce lines per turn; `flush()` before exiting. */
export function coalescedSinks(
  out: (text: string) => void,
  err: (text: string) => void,
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
  const onTurnEnd = (): void => {
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
      setImmediate(onTurnEnd);
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
