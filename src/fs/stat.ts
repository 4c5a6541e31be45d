/**
 * Small synchronous file lookups the lock files and destinations need: what is at a path, without
 * throwing for "nothing". "Nothing there" is the common answer on a first run (no marker, no
 * lock, no destination yet), so it is asked for with `throwIfNoEntry: false`: an exception built
 * for ENOENT costs several times the syscall itself.
 */

import { hash } from "node:crypto";
import { type BigIntStats, lstatSync, type Stats, statSync, unlinkSync } from "node:fs";
import { errorCodeOf } from "../errors.js";

/** SHA-256 in one call (`crypto.hash`): a third of `createHash().update().digest()`'s cost. */
export function hashOf(text: string): string {
  return hash("sha256", text, "hex").slice(0, 24);
}

/** The device and inode `path` leads to (links followed); `undefined` when it cannot be looked at. */
export function statOrUndefined(path: string): { dev: number; ino: number } | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/**
 * `statOrUndefined`, each path's answer remembered for `forMs` ("nothing there" is not
 * remembered), and for no more than `paths` paths at once (a long-lived embedder's). Only for a
 * question a stale answer cannot make unsafe.
 */
export function rememberingStat(
  forMs = 10_000,
  paths = 4096,
): (path: string) => { dev: number; ino: number } | undefined {
  const known = new Map<string, { dev: number; ino: number; until: number }>();
  return (path) => {
    const now = performance.now();
    const remembered = known.get(path);
    if (remembered && remembered.until > now) return remembered;
    const id = statOrUndefined(path);
    if (known.size >= paths) known.clear();
    if (id) known.set(path, { dev: id.dev, ino: id.ino, until: now + forMs });
    else known.delete(path);
    return id;
  };
}

/** What is at `path` itself, with 64-bit numbers; `undefined` when nothing is. Throws other errors. */
export function lstatBigOrUndefined(path: string): BigIntStats | undefined {
  try {
    return lstatSync(path, { bigint: true, throwIfNoEntry: false });
  } catch (error) {
    if (errorCodeOf(error) === "ENOENT") return undefined;
    throw error;
  }
}

/** What is at `path` itself (a link is not followed); `undefined` when nothing is. Throws other errors. */
export function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch (error) {
    const code = errorCodeOf(error);
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw error;
  }
}

export function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}
