/**
 * The last step of a local lease: its lock file rewritten as the pair's record and renamed into
 * place, which ends the lease (`FsLeases.beginHandOver` decides when this may start; see
 * docs/architecture.md, "The lock becomes the marker"). No inode is made for the record and none
 * freed for the lock: where creating an inode is the dearest step of a small file (ext4 without a
 * journal skips recently freed ones), that is one create and one unlink fewer per file. Until the
 * rename, the file still names its holder first, so a run that finds it can judge it as any lock.
 */
import {
  type BigIntStats,
  closeSync,
  ftruncateSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { errorCodeOf } from "../errors.js";
import { holdsExactly } from "../fs/no-follow.js";
import { lstatBigOrUndefined } from "../fs/stat.js";

/** The lock file being handed over: its open descriptor, path, identity and content (ours). */
export interface HeldLock {
  fd: number;
  path: string;
  identity: BigIntStats;
  text: string;
}

/**
 * Writes `record` (JSON object text) after the holder's fields into the lock file, through its
 * descriptor, and returns the steps that rename it to `target` or remove it. The caller has
 * checked the lock is ours and stopped renewing it. Throws, with the lock removed, when the
 * rewrite fails.
 */
export function rewriteLockAsRecord(lock: HeldLock, target: string, record: string): HandOverSteps {
  const { fd, path, identity, text } = lock;
  const combined = Buffer.from(`${text.slice(0, -1)},${record.slice(1)}`);
  let open = true;
  const closeOnce = () => {
    // Once only: a second close could hit a descriptor number reused by another file.
    if (open) closeQuietly(fd);
    open = false;
  };
  try {
    writeSync(fd, combined, 0, combined.length, 0);
    ftruncateSync(fd, combined.length);
  } catch (error) {
    // Nothing renamed: the lock file is ours still (its content names us), removed as a release would.
    closeOnce();
    unlinkIfSame(path, identity);
    throw error;
  }
  // From here on the lock holds `combined`. The inode alone does not make it ours (a broken
  // lock's inode is handed out again at once), so every step also compares the content.
  const stillOurs = () => holdsExactly(path, identity, combined);
  const removeIfOurs = () => {
    try {
      if (stillOurs()) unlinkSync(path);
    } catch {
      // a lock we cannot remove is one the next run finds stale
    }
  };
  return {
    finish: () => {
      // Renewals stopped with the hand-over: a holder stopped between the two steps for
      // longer than its lease may have been taken over. The lock at the path is then
      // another run's, and must not become this run's marker (a release checks the same).
      let ours: boolean;
      try {
        ours = stillOurs();
      } catch (error) {
        closeOnce();
        throw error;
      }
      if (!ours) {
        closeOnce();
        return "not-ours";
      }
      try {
        renameSync(path, target);
        closeOnce();
        return "renamed";
      } catch (error) {
        // Two bind mounts of one filesystem share a device number, yet refuse a rename
        // between them: the lock stays ours, for the caller to write the marker another way.
        if (errorCodeOf(error) === "EXDEV") return "cross-device";
        closeOnce();
        removeIfOurs();
        throw error;
      }
    },
    abandon: () => {
      closeOnce();
      removeIfOurs();
    },
  };
}

/**
 * A hand-over begun: `finish` renames the lock file to its target (the lease ends) and says
 * how it went — `renamed`; `not-ours` (the lock was no longer this holding's: nothing renamed,
 * nothing removed); `cross-device` (the rename was refused as crossing mounts: the lock is still
 * held, and `abandon` must follow once the record is written another way). `abandon` removes the
 * lock instead, if it is still this holding's (the lease ends, no record). One of them must be
 * called; `abandon` may follow `finish`.
 */
export interface HandOverSteps {
  finish(): "renamed" | "not-ours" | "cross-device";
  abandon(): void;
}

/** Begins a hand-over; `undefined` when it could not begin (nothing changed). */
export type HandOver = (target: string, record: string) => HandOverSteps | undefined;

/** Whether `folder` is on device `dev`; `undefined` when it cannot be looked at. */
export function sameDevice(dev: bigint, folder: string): boolean | undefined {
  try {
    return statSync(folder, { bigint: true }).dev === dev;
  } catch {
    return undefined;
  }
}

/** Whether `path` still leads to the file `identity` describes. */
function isSame(path: string, identity: BigIntStats): boolean {
  const now = lstatBigOrUndefined(path);
  return now?.ino === identity.ino && now.dev === identity.dev;
}

/**
 * Removes `path` if it is still the inode `identity` describes. By inode only: for a lock whose
 * content may be torn (a failed rewrite an instant after it was found ours); elsewhere the content
 * is compared too.
 */
function unlinkIfSame(path: string, identity: BigIntStats): void {
  try {
    if (isSame(path, identity)) unlinkSync(path);
  } catch {
    // a lock we cannot remove is one the next run finds stale
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
