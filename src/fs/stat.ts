/** Small synchronous file lookups the lock files need: what is at a path, without throwing for "nothing". */

import { createHash } from "node:crypto";
import { type BigIntStats, lstatSync, type Stats, statSync, unlinkSync } from "node:fs";
import { errorCodeOf } from "../errors.js";

export function hashOf(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 24);
}

export function statOrUndefined(path: string): { dev: number; ino: number } | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

export function lstatBigOrUndefined(path: string): BigIntStats | undefined {
  try {
    return lstatSync(path, { bigint: true });
  } catch (error) {
    if (errorCodeOf(error) === "ENOENT") return undefined;
    throw error;
  }
}

/** What is at `path` itself (a link is not followed); `undefined` when nothing is. */
export function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    const code = errorCodeOf(error);
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw error;
  }
}

/** The mtime of whatever is at `path` (a link included), or 0 when nothing is. */
export function lstatMtime(path: string): number {
  return lstatOrUndefined(path)?.mtimeMs ?? 0;
}

export function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}
