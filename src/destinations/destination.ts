/**
 * The contract every destination kind meets (local files now; object stores later): say what is
 * there, receive data into a private part that only this writer can touch, and put a finished
 * part in place atomically once the writer proves it still holds its lease.
 */
import type { ChecksumAlgorithm, Hasher } from "../checksums/digest.js";
import type { PartFile } from "../state/store.js";

/** What identifies the destination's current content on disk: a hand edit changes one of these. */
export interface Fingerprint {
  size: number;
  mtimeMs: number;
  /** The inode change time: no user can set it back, so an edit that restores size and mtime still shows. */
  ctimeMs: number;
  ino: number;
  /** Set by a commit whose replacement happened but could not be made durable (a folder fsync failed): why. */
  undurable?: string;
}

/** Whether two fingerprints are of the same file, unchanged. */
export function sameFile(a: Fingerprint, b: Fingerprint): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

/** What may still be resumed: a kept part, and whether its writer closed it (size exact) or died writing. */
export interface ResumeCandidate {
  file: PartFile;
  /** The writer closed it: its size must be exactly `file.size`. Otherwise at least that. */
  closed: boolean;
}

/** A part being received. Written strictly in order: at every moment it is a prefix of the body. */
export interface PartSink {
  /** Bytes already in the part (a resume); new bytes follow from here. */
  readonly offset: number;
  /** The part as a state record describes it (its size: what was written so far). */
  file(): PartFile;
  /** Feeds the kept bytes `[0, offset)` into `hashes`, read through the part's own descriptor. */
  hashKept(hashes: Hasher[], signal: AbortSignal): Promise<void>;
  /**
   * Takes a chunk; returns a promise when the caller should pause until it settles. Throws the
   * first write error (the chunk was then not taken). `release`, if given, is called once the
   * chunk's bytes are no longer needed (written); a chunk kept unwritten is never released.
   */
  push(chunk: Uint8Array, release?: () => void): Promise<void> | undefined;
  /**
   * Writes what is left. Durable once committed: the commit fsyncs the part after giving it its
   * final mode, so one fsync covers the bytes and the mode.
   */
  finish(): Promise<void>;
  /**
   * Writes what did arrive (for a resume) and closes the part; never throws. Resolves to whether
   * the part may be resumed: `false` once a write or a flush to disk has failed, as the part's
   * bytes can then not be trusted even where the file shows them.
   */
  abandon(): Promise<boolean>;
  /** Removes the part; never throws. */
  discard(): Promise<void>;
  /**
   * The part written at offsets (segmented downloads), through the same descriptor; present
   * where the destination `writesAtOffsets`. Once used, `offset` and `push` no longer describe
   * the part: its record's segments do.
   */
  positional?(): PositionalPart;
}

/**
 * A part written in segments, each in order from its own start, through the part's own
 * descriptor. `abandon` and `discard` of the part stop every segment writer too.
 */
export interface PositionalPart {
  /** Gives the part its full size (sparse: no byte written); done once, before any segment. */
  allocate(size: number): Promise<void>;
  /**
   * A writer of the bytes from `position` on, strictly in order. `onWritten(end)` is called as
   * each write completes: the bytes before `end` of this segment are then in the file and may be
   * read back (they are never written again).
   */
  writerAt(position: number, onWritten: (end: number) => void): SegmentWriter;
  /** Reads up to `length` bytes at `position` into `buffer`, through the part's descriptor. */
  read(buffer: Uint8Array, length: number, position: number): Promise<number>;
  /** Flushes every completed write to disk (fdatasync): what a record of progress may claim. */
  datasync(): Promise<void>;
}

/** One segment's writer (see `PositionalPart.writerAt`). */
export interface SegmentWriter {
  /** Where the next byte goes. */
  readonly position: number;
  /**
   * Takes a chunk, as `PartSink.push` does (with its `release`). A segment stops reading once
   * 1 MiB of its chunks is unreleased: a writer must write (and release) well before it holds
   * that much waiting for more, or the segment stalls.
   */
  push(chunk: Uint8Array, release?: () => void): Promise<void> | undefined;
  /** Writes what is left and waits for it (no fsync: `PositionalPart.sync` does that once). */
  flush(): Promise<void>;
  /** Writes what did arrive and waits for it; never throws. */
  abandon(): Promise<void>;
}

/** Anything that can say whether the writer still holds its lease (a `Lease`). */
export interface LeaseCheck {
  /** Throws unless the lease is still the writer's. */
  check(): Promise<void>;
}

export interface Destination {
  /** The destination as planned (for messages and results). */
  readonly path: string;
  /**
   * One name per destination however it is spelled (`file:///real/folder/name`): the key of its
   * lease and its state.
   */
  readonly id: string;
  /** What is there now; `undefined` when nothing (or no regular file) is. */
  fingerprint(): Promise<Fingerprint | undefined>;
  /** Makes the destination writable (its folder created); throws `write_error` when it cannot be. */
  prepare(): Promise<void>;
  /** Throws `write_error` when the way to the destination is no longer safe (a folder became a link). */
  verifyWay?(): void;
  /**
   * A private part to receive into: `resume`, when it is still the very file it describes (same
   * inode, owned by this user, of the recorded size, no link), else a new one from zero (then
   * `onRefused` tells why `resume` was not taken; "" when the part is simply gone).
   */
  openPart(
    resume: ResumeCandidate | undefined,
    onRefused?: (reason: string) => void,
  ): Promise<PartSink>;
  /** Removes a kept part by its record, if it is still that very file; never throws. */
  discardKept(file: PartFile): Promise<void>;
  /**
   * Removes every part of this destination but `keep` — only this user's regular files with a
   * name only this destination's parts have — and says how many; never throws. Called by the
   * lease holder once its predecessor died or expired: parts are only ever made under the lease,
   * so no live writer owns these (one that lost its lease cannot commit).
   */
  sweepParts?(keep: PartFile | undefined): Promise<number>;
  /**
   * Puts the finished part in place, atomically, keeping an existing destination's mode (and
   * owner, where the runner may set it); a new one gets `newFileMode` (less the umask) when given,
   * else what the umask allows. Durable when it resolves. Refuses (rejects with the lease's
   * error) when `lease.check()` fails first, and with a `write_error` when the part was written
   * by someone else once its owner and mode were set. `sealed` (a failpoint) runs just then.
   */
  commit(
    part: PartSink,
    lease: LeaseCheck,
    options?: { newFileMode?: number; sealed?: () => Promise<void> },
  ): Promise<Fingerprint>;
  /** Bytes free where parts of this destination are written; `undefined` when unknown. */
  freeBytes?(): Promise<number | undefined>;
  /** Its parts can be written at offsets (`PartSink.positional`): a download may be split. */
  readonly writesAtOffsets?: boolean;
  /** The digest of what is there now; `null` when nothing is or it cannot be read. */
  checksum(algorithm: ChecksumAlgorithm, signal: AbortSignal): Promise<string | null>;
  /**
   * The digest of what is there now, with its fingerprint, when a marker may vouch for it: read
   * in one go with the file held still, and still the file at the destination's name when read
   * (a file that changed meanwhile, was replaced, is another user's, or that a write could still
   * change unseen gives `undefined`). Absent: no marker is vouched for again.
   * `flush` false (a dry run: nothing written, nothing recorded): the file is not flushed first.
   */
  verifiedDigest?(
    algorithm: ChecksumAlgorithm,
    signal: AbortSignal,
    flush?: boolean,
  ): Promise<{ digest: string; at: Fingerprint } | undefined>;
}

/** Makes `Destination`s of one kind (the runtime holds one per kind). */
export interface DestinationDriver {
  /**
   * The destination at `path`. With `within` (a folder `path` lies in), every folder between
   * `within` and `path` must be a real folder: one that is a link makes `prepare` and `commit`
   * refuse (`write_error`), and nothing is read through it. The folders it makes there get
   * `folderModes` (`JobSpec.folderModes`), else the umask's default.
   */
  open(path: string, within?: string, folderModes?: readonly number[]): Promise<Destination>;
}
