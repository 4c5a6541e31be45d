/** The process's umask: what new files' modes lose. */

/** The process's umask, for the mode of new files (0o022 when it cannot be read). */
export function readUmask(): number {
  try {
    // Reading without setting is deprecated only in the docs (DEP0139), and it is the one way.
    return process.umask();
  } catch {
    return 0o022;
  }
}
