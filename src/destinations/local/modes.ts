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
 * not the runner's and the runner may give a file away (root); otherwise the runner's own.
 */
export function ownerToKeep(existing: Stats | undefined): { uid: number; gid: number } | undefined {
  if (!existing?.isFile() || process.getuid?.() !== 0) return undefined;
  if (existing.uid === 0 && existing.gid === (process.getgid?.() ?? 0)) return undefined;
  return { uid: existing.uid, gid: existing.gid };
}
