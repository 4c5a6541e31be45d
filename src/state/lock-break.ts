/**
 * Taking a stale lock over without racing another taker: `<lock>.break` is held (created with
 * `O_EXCL`) for the few synchronous steps of a takeover, so that only one taker judges and
 * removes a given stale lock.
 */

import { closeSync, type Stats, unlinkSync } from "node:fs";
import type { Clock } from "../clock.js";
import { errorCodeOf, SyncError } from "../errors.js";
import { createNew, inspectSmallFile } from "../fs/no-follow.js";
import { lstatOrUndefined, unlinkQuietly } from "../fs/stat.js";
import type { Logger } from "../log/events.js";
import { type HolderVerdict, LONG_SILENCE_MS, leaseExpired, parseOwner } from "./lock-owner.js";

/** A lock-break marker older than this belonged to a process killed mid-takeover. */
export const STALE_BREAK_MS = 2000;

/** What a taker works with: its clock, its log, and the locks it has warned it may not remove. */
export interface Breaking {
  clock: Clock;
  logger: Logger;
  /** Locks said once not to be removable (`cannot remove stale lock`). */
  warned: Set<string>;
  /** Locks said once to be held by another user's run (`lock held by another user`). */
  heldByOthers: Set<string>;
}

/**
 * A lock left to its running holder: when the holder is another user's, said once, as a warning.
 * Such a user can keep the pair busy for good (README "Limits"); a skipped pair alone hides it.
 */
export function noteLiveHolder(breaking: Breaking, path: string, ownerUid: number): void {
  if (ownerUid === process.getuid?.() || breaking.heldByOthers.has(path)) return;
  breaking.heldByOthers.add(path);
  breaking.logger.emit("warning", "lock held by another user", { lock: path, owner_uid: ownerUid });
}

/** What was found at a lock's path: its stats, and its text if it is a small file this run can read. */
export type LockSighting = { text: string | undefined; stats: Stats };

/**
 * Removes a stale lock without racing another taker: only the holder of `<lock>.break` may
 * remove it, and only if it is still the very file judged stale (`stale`: the same inode, device,
 * times and content), unrenewed.
 * `broken`: removed (try to take it now); `busy`: it turned out alive, or another lock is there
 * now; `changing`: another taker holds the marker (look again shortly).
 * A lock `unlink` may not remove (EPERM, EACCES: another user's, in a sticky folder) is `busy`
 * while its holder may still come back — stopped, or judged by its age alone and silent for
 * less than `LONG_SILENCE_MS` — with a warning the first time (`warned` remembers the
 * paths). Throws a `write_error` when the lock, or a dead taker's marker, is there to stay: a
 * folder, a dead holder's lock, one silent for longer, a read-only file system. Waiting would
 * never end, and calling the pair busy would be a lie.
 */
export function breakStaleLock(
  path: string,
  stale: LockSighting,
  ttlMs: number,
  verdict: HolderVerdict,
  { clock, logger, warned }: Breaking,
): "broken" | "busy" | "changing" {
  const breakPath = `${path}.break`;
  const fd = createNew(breakPath, 0o644);
  if (fd === undefined) {
    // Gone since (mtime unknown): someone else's new marker may be there now, so leave it.
    const mtime = lstatOrUndefined(breakPath)?.mtimeMs;
    // Dated far ahead is as dead as far behind: a taker whose clock ran ahead was killed, or
    // someone planted it. Left there, it kept the lock unbreakable until that date came.
    if (mtime !== undefined && Math.abs(clock.now() - mtime) > STALE_BREAK_MS)
      removeOrExplain(breakPath);
    return "changing";
  }
  closeSync(fd);
  try {
    const now = inspectSmallFile(path);
    if (now === undefined) return "broken";
    // The same file, not only the same content: every empty lock reads alike, and one made since
    // (its maker about to name itself) must not go for a dead one's. The times count as much as
    // the inode: ext4 hands a removed lock's inode number to the next file at once.
    const same =
      now.text === stale.text &&
      now.stats.ino === stale.stats.ino &&
      now.stats.dev === stale.stats.dev &&
      now.stats.mtimeMs === stale.stats.mtimeMs &&
      now.stats.ctimeMs === stale.stats.ctimeMs;
    if (!same) return "busy";
    // Renewed since we judged it: a paused holder woke up; it is alive after all.
    if (!verdict.gone && !leaseExpired(clock.now() - now.stats.mtimeMs, ttlMs)) return "busy";
    const refused = removalRefused(path);
    if (refused !== undefined) {
      if (refused === "EISDIR") throw lockInTheWay(path, "it is a folder");
      const why = `${refused}; owned by uid ${now.stats.uid}; ${verdict.reason}`;
      // Its holder may still come back: a stopped process, or one judged by age alone whose
      // lease ran out not long ago. Longer, and it is a dead run's or something planted: waiting
      // on it would skip the pair for ever.
      // Either side of now: a lock dated in the future is as silent as one dated as far back.
      const silentMs = Math.abs(clock.now() - now.stats.mtimeMs) - ttlMs;
      const mayReturn = verdict.stopped || (!verdict.gone && silentMs < LONG_SILENCE_MS);
      if ((refused === "EPERM" || refused === "EACCES") && mayReturn) {
        if (!warned.has(path)) {
          warned.add(path);
          logger.emit("warning", "cannot remove stale lock", {
            lock: path,
            owner_uid: now.stats.uid,
            error_code: refused,
            reason: verdict.reason,
          });
        }
        return "busy";
      }
      throw lockInTheWay(path, why);
    }
    const owner = now.text === undefined ? undefined : parseOwner(now.text);
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

/** Removes `path`: `undefined` when done (or gone already), else the error code that refused it. */
function removalRefused(path: string): string | undefined {
  try {
    unlinkSync(path);
    return undefined;
  } catch (error) {
    const code = errorCodeOf(error) ?? String(error);
    return code === "ENOENT" ? undefined : code;
  }
}

/** Removes a dead taker's marker, or throws `lockInTheWay` when it is there to stay. */
function removeOrExplain(path: string): void {
  const refused = removalRefused(path);
  if (refused !== undefined) {
    throw lockInTheWay(path, refused === "EISDIR" ? "it is a folder" : refused);
  }
}

/**
 * The failure of a pair whose lock path holds something this run can never take over (`why`):
 * a `write_error` naming it, and what to do.
 */
export function lockInTheWay(path: string, why: string, cause?: unknown): SyncError {
  return new SyncError(
    "write_error",
    `cannot take the lock ${path} (${why}): remove it by hand, then run again`,
    cause === undefined ? {} : { cause },
  );
}
