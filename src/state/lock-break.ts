/**
 * Taking a stale lock over without racing another taker: `<lock>.break` is held (created with
 * `O_EXCL`) for the few synchronous steps of a takeover, so that only one taker judges and
 * removes a given stale lock.
 */

import { closeSync, type Stats } from "node:fs";
import type { Clock } from "../clock.js";
import { createNew, readSmallFile } from "../fs/no-follow.js";
import { lstatMtime, lstatOrUndefined, unlinkQuietly } from "../fs/stat.js";
import type { Logger } from "../log/events.js";
import { type HolderVerdict, leaseExpired, parseOwner } from "./lock-owner.js";

/** A lock-break marker older than this belonged to a process killed mid-takeover. */
export const STALE_BREAK_MS = 2000;

/**
 * Removes a stale lock without racing another taker: only the holder of `<lock>.break` may
 * remove it, and only if it is still the very file judged stale (`stale`, as read then; `null`
 * for something not a regular file), with the same content, unrenewed.
 * `broken`: removed (try to take it now); `busy`: it turned out alive, or another lock is there
 * now; `changing`: another taker holds the marker (look again shortly).
 */
export function breakStaleLock(
  path: string,
  stale: { text: string; stats: Stats } | null,
  ttlMs: number,
  verdict: HolderVerdict,
  clock: Clock,
  logger: Logger,
): "broken" | "busy" | "changing" {
  const breakPath = `${path}.break`;
  const fd = createNew(breakPath, 0o644);
  if (fd === undefined) {
    // Gone since (mtime unknown): someone else's new marker may be there now, so leave it.
    const mtime = lstatOrUndefined(breakPath)?.mtimeMs;
    if (mtime !== undefined && clock.now() - mtime > STALE_BREAK_MS) unlinkQuietly(breakPath);
    return "changing";
  }
  closeSync(fd);
  try {
    const now = readSmallFile(path);
    if (now === undefined) return "broken";
    // The same file, not only the same content: every empty lock reads alike, and one made since
    // (its maker about to name itself) must not go for a dead one's. The times count as much as
    // the inode: ext4 hands a removed lock's inode number to the next file at once.
    const same =
      now === null || stale === null
        ? now === stale
        : now.text === stale.text &&
          now.stats.ino === stale.stats.ino &&
          now.stats.dev === stale.stats.dev &&
          now.stats.mtimeMs === stale.stats.mtimeMs &&
          now.stats.ctimeMs === stale.stats.ctimeMs;
    if (!same) return "busy";
    // Renewed since we judged it: a paused holder woke up; it is alive after all.
    const age = clock.now() - (now?.stats.mtimeMs ?? lstatMtime(path));
    if (!verdict.gone && !leaseExpired(age, ttlMs)) return "busy";
    unlinkQuietly(path);
    const owner = now ? parseOwner(now.text) : undefined;
    logger.emit("warning", "removed stale lock", {
      lock: path,
      holder_pid: owner?.pid ?? null,
      reason: verdict.reason,
    });
    return "broken";
  } finally {
    unlinkQuietly(breakPath);
  }
}
