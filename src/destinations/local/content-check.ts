/**
 * Reading a destination's content to hash it: what `checksum()` reports, and what a marker may
 * vouch for again once the destination's metadata alone changed (core/revouch.ts).
 */
import { constants, type Stats } from "node:fs";
import { type FileHandle, lstat, open, statfs } from "node:fs/promises";
import type { ChecksumAlgorithm } from "../../checksums/digest.js";
import { newHash } from "../../checksums/digest.js";
import { type Fingerprint, sameFile } from "../destination.js";

const READ_CHUNK = 1 << 20;
/** Never a link (O_NOFOLLOW), never a wait on a FIFO a planted name could be (O_NONBLOCK). */
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** The size, times and inode a marker records of a destination. */
export function fingerprintOf(info: Stats): Fingerprint {
  return { size: info.size, mtimeMs: info.mtimeMs, ctimeMs: info.ctimeMs, ino: info.ino };
}

/** The digest of the regular file at `path`; null when it is none, cannot be read, or `signal` aborts. */
export async function hashFile(
  path: string,
  algorithm: ChecksumAlgorithm,
  signal: AbortSignal,
): Promise<string | null> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, READ_FLAGS);
    if (!(await handle.stat()).isFile()) return null;
    return await hashHandle(handle, algorithm, signal);
  } catch {
    return null;
  } finally {
    await handle?.close().catch(() => {});
  }
}

/**
 * The digest of the file at `path` with the file as it was across the read, for a marker to
 * vouch for: a regular file of this process's user (another user's file at the destination's
 * name is not adopted), on a file system that writes its pages back (not tmpfs or ramfs), and
 * the same, by `fstat` of the descriptor read, from before a flush to after the read. The flush
 * (`fsync`) writes back the pages a shared mapping dirtied and write-protects them: a write
 * through a mapping after it faults and moves the times, as on a file just committed; one before
 * it is in the bytes read or moved the times already. Without `flush` (a dry run, which writes
 * nothing and records nothing) the same checks but the flush. Undefined when any of that fails.
 */
export async function verifiedDigest(
  path: string,
  algorithm: ChecksumAlgorithm,
  signal: AbortSignal,
  flush = true,
): Promise<{ digest: string; at: Fingerprint } | undefined> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, READ_FLAGS);
    const opened = await handle.stat();
    if (!opened.isFile() || opened.uid !== process.geteuid?.()) return undefined;
    if (PAGES_NEVER_WRITTEN_BACK.has((await statfs(path)).type)) return undefined;
    const before = fingerprintOf(opened);
    if (flush) await handle.sync();
    const digest = await hashHandle(handle, algorithm, signal);
    const after = fingerprintOf(await handle.stat());
    if (digest === null || !sameFile(before, after)) return undefined;
    // Still the file at `path`, asked while the descriptor keeps its inode from being reused.
    const named = await lstat(path);
    return sameFile(fingerprintOf(named), after) ? { digest, at: after } : undefined;
  } catch {
    return undefined;
  } finally {
    await handle?.close().catch(() => {});
  }
}

/**
 * tmpfs, ramfs, hugetlbfs: their pages are never written back nor write-protected, so a page a
 * shared mapping made writable once takes writes that move no time at all.
 */
const PAGES_NEVER_WRITTEN_BACK = new Set([0x01021994, 0x858458f6, 0x958458f6]);

async function hashHandle(
  handle: FileHandle,
  algorithm: ChecksumAlgorithm,
  signal: AbortSignal,
): Promise<string | null> {
  const hash = newHash(algorithm);
  const buffer = Buffer.allocUnsafe(READ_CHUNK);
  let position = 0;
  for (;;) {
    if (signal.aborted) return null;
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) break;
    position += bytesRead;
    hash.update(buffer.subarray(0, bytesRead));
  }
  return hash.digest("hex");
}
