/** The process's umask: what new files' modes lose. */
import { readFileSync } from "node:fs";

/**
 * The process's umask, for the mode of new files (0o022 when it cannot be read). Read from
 * /proc/self/status where it can be: `process.umask()` reads it by setting it to 0 and back,
 * and a file another thread creates in between would get no umask at all (DEP0139).
 */
export function readUmask(): number {
  try {
    const match = /^Umask:\s+([0-7]+)$/m.exec(readFileSync("/proc/self/status", "latin1"));
    if (match) return Number.parseInt(match[1] as string, 8);
  } catch {
    // no /proc: the one other way
  }
  try {
    return process.umask();
  } catch {
    return 0o022;
  }
}
