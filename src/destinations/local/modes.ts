/** The mode and owner a committed file gets, and the umask new files are made under. */
import type { Stats } from "node:fs";

/**
 * The mode of a committed file: an existing destination's permission bits, never setuid, setgid
 * or sticky; a new one's, what the source suggests (a local file's mode) or 0666, less the umask.
 */
export function modeFor(
  existing: Stats | undefined,
  umask: number,
  suggested: number | undefined,
): number {
  if (!existing?.isFile()) return (suggested ?? 0o666) & 0o777 & ~umask;
  return existing.mode & 0o777;
}

/**
 * Whose the committed file should be: an existing destination's owner and group, when they are
 * not what a new file gets and the runner may give them: root any; another user its own file's
 * group when it is one of theirs (`chgrp` allows that), so that an update by a member of the
 * file's group does not move it to their primary group. Otherwise the runner's own.
 */
export function ownerToKeep(existing: Stats | undefined): { uid: number; gid: number } | undefined {
  if (!existing?.isFile()) return undefined;
  const uid = process.getuid?.();
  const gid = process.getegid?.();
  if (uid !== 0) {
    if (existing.uid !== uid || existing.gid === gid) return undefined;
    return process.getgroups?.().includes(existing.gid)
      ? { uid: existing.uid, gid: existing.gid }
      : undefined;
  }
  if (existing.uid === 0 && existing.gid === (process.getgid?.() ?? 0)) return undefined;
  return { uid: existing.uid, gid: existing.gid };
}
