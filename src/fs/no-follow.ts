/**
 * File primitives that never follow a symbolic link at the last component and never open an
 * existing file when a new one is meant: what keeps a planted link (`part -> /etc/passwd`) from
 * redirecting a write.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readSync,
  type Stats,
} from "node:fs";
import { errorCodeOf } from "../errors.js";

/** The largest file read as a lock or a record: anything bigger is not one of ours. */
const SMALL_FILE_MAX = 64 * 1024;

const { O_CREAT, O_EXCL, O_NOCTTY, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY } = constants;

/** Flags that create a new file or fail: never an existing file, never through a link. */
export const CREATE_NEW = O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY;
/**
 * `CREATE_NEW`, readable too: a part file, whose bytes a segmented download reads back through
 * the same descriptor to hash them (as a resume reads a reopened part's).
 */
export const CREATE_NEW_RW = O_CREAT | O_EXCL | O_NOFOLLOW | O_RDWR;
/** Flags that open an existing file for reading and writing, refusing a link. */
export const OPEN_EXISTING_RW = O_RDWR | O_NOFOLLOW;

/** Creates `path` (mode `mode`, before the umask) and returns its descriptor; `undefined` when something is already there. */
export function createNew(path: string, mode = 0o600): number | undefined {
  try {
    return openSync(path, CREATE_NEW, mode);
  } catch (error) {
    if (errorCodeOf(error) === "EEXIST") return undefined;
    throw error;
  }
}

/**
 * Reads a small file without following a link. `undefined` when nothing is there; a link or
 * anything not a regular file reads as `null` (a foreign object, not ours).
 */
export function readSmallFile(path: string): { text: string; stats: Stats } | null | undefined {
  let fd: number;
  try {
    fd = openSync(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  } catch (error) {
    const code = errorCodeOf(error);
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP" || code === "ENXIO") return null;
    throw error;
  }
  const read = readAndClose(fd);
  return read.text === undefined ? null : { text: read.text, stats: read.stats };
}

/**
 * What is at `path` (a link is never followed), for judging a lock file: its stats, and its text
 * when it is a small regular file this process can read (`text` is `undefined` for a link, a
 * folder, a file it may not read, one too big to be a lock). The stats come from the descriptor
 * the text was read through, or from `lstat` when nothing could be opened, so they always
 * describe the object judged. `undefined` when nothing is there. Throws only when this process is
 * out of descriptors, or the folder itself cannot be looked into.
 */
export function inspectSmallFile(
  path: string,
): { text: string | undefined; stats: Stats } | undefined {
  let fd: number;
  try {
    fd = openSync(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  } catch (error) {
    const code = errorCodeOf(error);
    if (code === "ENOENT") return undefined;
    if (code === "EMFILE" || code === "ENFILE") throw error;
    // A link (ELOOP), a socket (ENXIO), another user's unreadable file (EACCES), one under a
    // lease (EAGAIN): there, but not readable as a lock. `lstat` still dates and identifies it.
    const stats = lstatSync(path, { throwIfNoEntry: false });
    return stats === undefined ? undefined : { text: undefined, stats };
  }
  return readAndClose(fd);
}

/** The open file `fd`'s stats, and its text if it is a small regular file; `fd` is closed. */
function readAndClose(fd: number): { text: string | undefined; stats: Stats } {
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile() || stats.size > SMALL_FILE_MAX) return { text: undefined, stats };
    const buffer = Buffer.alloc(stats.size);
    const read = readFromStart(fd, buffer);
    return { text: buffer.subarray(0, read).toString("utf8"), stats };
  } finally {
    closeSync(fd);
  }
}

/** A file's identity: its inode number and device, as `bigint` stats give them. */
export interface FileIdentity {
  ino: bigint;
  dev: bigint;
}

/**
 * Whether `path` (a link is never followed) is the very file `identity` describes and holds
 * exactly `content`. The inode and the bytes are read through one descriptor, so a swap between
 * two lookups cannot pair one file's inode with another's content; and it costs four system
 * calls (open, fstat, read, close) where an `lstat` before `readSmallFile` cost five. Throws
 * only when this process is out of descriptors.
 */
export function holdsExactly(path: string, identity: FileIdentity, content: Buffer): boolean {
  let fd: number;
  try {
    fd = openSync(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  } catch (error) {
    // Whatever cannot be opened is not the file we made and can open: a planted file with no
    // read permission (EACCES), one under a lease (EAGAIN), a link (ELOOP), a socket (ENXIO).
    // Only running out of descriptors says nothing about the file.
    const code = errorCodeOf(error);
    if (code === "EMFILE" || code === "ENFILE") throw error;
    return false;
  }
  try {
    const stats = fstatSync(fd, { bigint: true });
    if (!stats.isFile() || stats.ino !== identity.ino || stats.dev !== identity.dev) return false;
    if (stats.size !== BigInt(content.length)) return false;
    const buffer = Buffer.allocUnsafe(content.length);
    return readFromStart(fd, buffer) === content.length && buffer.equals(content);
  } finally {
    closeSync(fd);
  }
}

/** Fills `buffer` from the start of the file `fd`, stopping early at its end; the bytes read. */
function readFromStart(fd: number, buffer: Buffer): number {
  let read = 0;
  while (read < buffer.length) {
    const n = readSync(fd, buffer, read, buffer.length - read, read);
    if (n === 0) break;
    read += n;
  }
  return read;
}
