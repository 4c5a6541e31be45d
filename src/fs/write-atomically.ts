/** A small file replaced whole or not at all: the records of the file state store. */
import { randomUUID } from "node:crypto";
import { closeSync, fstatSync, openSync, renameSync, unlinkSync, writeFileSync } from "node:fs";

/**
 * Writes `text` to a new temporary file beside `path` (asked for mode 0644, which the umask or
 * the folder's default ACL may narrow; never through a link or over an existing file), runs
 * `beforeRename` (a failpoint), then renames it over `path`. With `reportMode`, resolves to the
 * permission bits the file was given (one `fstat` more), which tell what the folder gives new
 * records. On failure the temporary file is removed and the error thrown; `path` is untouched.
 */
export async function writeAtomically(
  path: string,
  text: string,
  beforeRename?: () => Promise<void>,
  reportMode = false,
): Promise<number | undefined> {
  const temp = `${path}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
  try {
    const fd = openSync(temp, "wx", 0o644);
    let mode: number | undefined;
    try {
      writeFileSync(fd, text);
      if (reportMode) mode = fstatSync(fd).mode & 0o777;
    } finally {
      closeSync(fd);
    }
    await beforeRename?.();
    renameSync(temp, path);
    return mode;
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // already gone, or never made
    }
    throw error;
  }
}
