/**
 * Path helpers for the per-file paths of a run, where `node:path` normalises character by
 * character (a few hundred bytes of garbage per call) even when there is nothing to normalise.
 */
import { resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/**
 * `path.join(folder, name)` for a `folder` already normalised (a resolved or real path, a lock
 * dir normalised once) and a `name` that is a file name or a normal relative path (no empty, `.`
 * or `..` segment, no leading or trailing separator): a concatenation.
 */
export function childPath(folder: string, name: string): string {
  return folder.endsWith(sep) ? folder + name : folder + sep + name;
}

/**
 * `path.resolve(path)`: `path` itself when it is already absolute and normal (no empty, `.` or
 * `..` segment, no trailing separator), as the plan's paths nearly always are.
 */
export function resolvedPath(path: string): string {
  return isNormalAbsolute(path) ? path : resolve(path);
}

/** Characters that a file URL holds as they are (nothing to percent-encode or decode). */
const URL_PLAIN = /^[A-Za-z0-9/._-]*$/;

/**
 * `pathToFileURL(path).href`, spelled out for a normal absolute path of plain characters (no
 * URL object made: a no-op re-run names every destination this way).
 */
export function fileUrlOf(path: string): string {
  return URL_PLAIN.test(path) && isNormalAbsolute(path)
    ? `file://${path}`
    : pathToFileURL(path).href;
}

/** `fileURLToPath(url)`, read off directly when `url` is `file://` and a plain, normal path. */
export function pathOfFileUrl(url: string): string {
  if (url.startsWith("file:///")) {
    const path = url.slice(7);
    if (URL_PLAIN.test(path) && isNormalAbsolute(path)) return path;
  }
  return fileURLToPath(url);
}

function isNormalAbsolute(path: string): boolean {
  if (sep !== "/" || !path.startsWith("/")) return false;
  if (path === "/") return true;
  if (path.endsWith("/")) return false;
  for (let at = path.indexOf("/"); at >= 0; at = path.indexOf("/", at + 1)) {
    const next = path.charCodeAt(at + 1);
    if (next === 0x2f) return false; // "//"
    if (next === 0x2e) {
      // "/." or "/.." as a whole segment
      const after = path.charCodeAt(at + 2);
      if (Number.isNaN(after) || after === 0x2f) return false;
      if (after === 0x2e) {
        const third = path.charCodeAt(at + 3);
        if (Number.isNaN(third) || third === 0x2f) return false;
      }
    }
  }
  return true;
}
