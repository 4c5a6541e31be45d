/** A small file replaced whole or not at all: the records of the file state store. */
import { randomUUID } from "node:crypto";
import { renameSync, unlinkSync, writeFileSync } from "node:fs";

/**
 * Writes `text` to a new temporary file beside `path` (mode 0644 less the umask, never through
 * a link or over an existing file), runs `beforeRename` (a failpoint), then renames it over
 * `path`. On failure the temporary file is removed and the error thrown; `path` is untouched.
 */
export async function writeAtomically(
  path: string,
  text: string,
  beforeRename?: () => Promise<void>,
): Promise<void> {
  const temp = `${path}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
  try {
    writeFileSync(temp, text, { flag: "wx", mode: 0o644 });
    await beforeRename?.();
    renameSync(temp, path);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // already gone
    }
    throw error;
  }
}
