/**
 * `path.join(folder, name)` for the common case of a `folder` already normalised (a resolved or
 * real path, a lock dir normalised once) and a plain `name` (no separator, not `.` or `..`).
 */
import { sep } from "node:path";

/**
 * `folder` + separator + `name`. `path.join` normalises its result character by character (a
 * few hundred bytes of garbage per call): a no-op re-run made several such joins per file.
 */
export function childPath(folder: string, name: string): string {
  return folder.endsWith(sep) ? folder + name : folder + sep + name;
}
