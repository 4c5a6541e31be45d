/**
 * A local part file: created new (`O_CREAT | O_EXCL | O_NOFOLLOW`, mode 0600) under a random name
 * beside the destination, or reopened (`O_NOFOLLOW`) when its record proves it is the very file
 * this user wrote. Every read and write goes through the one descriptor opened here — never by
 * name again — so swapping the name for a link or another file redirects nothing.
 */

import { lstatSync, type Stats, unlinkSync } from "node:fs";
import { join } from "node:path";
import type { Hasher } from "../../checksums/digest.js";
import { SyncError, writeError } from "../../errors.js";
import { CREATE_NEW_RW, OPEN_EXISTING_RW } from "../../fs/no-follow.js";
import { OpenFile } from "../../fs/open-file.js";
import type { PartFile } from "../../state/store.js";
import type { PartSink, PositionalPart, ResumeCandidate } from "../destination.js";
import { isPartNameFor, newPartName } from "./names.js";
import { PartWriter } from "./part-writer.js";
import { PositionalWriter } from "./positional-writer.js";

const READ_CHUNK = 1 << 20;

export class LocalPart implements PartSink {
  readonly offset: number;
  readonly folder: string;
  readonly name: string;
  readonly #handle: OpenFile;
  readonly #stats: Stats;
  readonly #writer: PartWriter;
  /** Set once the part is written at offsets (a segmented download). */
  #positional: PositionalWriter | undefined;
  #closed = false;

  private constructor(
    folder: string,
    name: string,
    handle: OpenFile,
    stats: Stats,
    offset: number,
  ) {
    this.folder = folder;
    this.name = name;
    this.#handle = handle;
    this.#stats = stats;
    this.offset = offset;
    this.#writer = new PartWriter(handle, offset);
  }

  /** A new part for the destination named `name` in `folder`. Throws `write_error`. */
  static async create(folder: string, name: string): Promise<LocalPart> {
    // A name taken meanwhile (64 random bits: only if planted on purpose) is simply skipped.
    for (let tries = 0; ; tries += 1) {
      const partName = newPartName(name);
      const path = join(folder, partName);
      // Created in the thread pool: making an inode can take a while (ext4 looks past recently
      // freed ones); the calls after it are cheap and made at once.
      let handle: OpenFile;
      try {
        handle = await OpenFile.open(path, CREATE_NEW_RW, 0o600);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EEXIST" && tries < 5) continue;
        throw writeError("create a part file beside", join(folder, name), error);
      }
      try {
        return new LocalPart(folder, partName, handle, handle.stat(), 0);
      } catch (error) {
        // fstat of a descriptor just opened: never seen failing. Its unrecorded part is swept
        // by a later holder; it is not removed by name here.
        handle.close();
        throw writeError("create a part file beside", join(folder, name), error);
      }
    }
  }

  /** Reopens the kept part `candidate` of the destination `name`, or says why it may not be resumed. */
  static async reopen(
    folder: string,
    name: string,
    candidate: ResumeCandidate,
  ): Promise<LocalPart | string> {
    const { file } = candidate;
    if (!isPartNameFor(file.name, name))
      return "its record names a file that is not a part of this destination";
    let handle: OpenFile;
    try {
      handle = await OpenFile.open(join(folder, file.name), OPEN_EXISTING_RW);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return code === "ELOOP"
        ? "the part file is a symbolic link"
        : `the part file cannot be opened (${code})`;
    }
    let stats: Stats;
    try {
      stats = handle.stat();
    } catch (error) {
      handle.close();
      return `the part file cannot be inspected (${(error as NodeJS.ErrnoException).code})`;
    }
    const refusal = refusalOf(stats, candidate);
    if (refusal) {
      handle.close();
      return refusal;
    }
    return new LocalPart(folder, file.name, handle, stats, stats.size);
  }

  file(): PartFile {
    return {
      name: this.name,
      dev: this.#stats.dev,
      ino: this.#stats.ino,
      uid: this.#stats.uid,
      // A segmented part has its full size from the start; its progress is in its record.
      size: this.#positional?.size ?? this.#writer.position,
    };
  }

  positional(): PositionalPart {
    // A reopened part already has its size (the record said so, and `reopen` checked it).
    this.#positional ??= new PositionalWriter(
      this.#handle,
      this.offset > 0 ? this.offset : undefined,
    );
    return this.#positional;
  }

  async hashKept(hashes: Hasher[], signal: AbortSignal): Promise<void> {
    const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(this.offset, 1)));
    for (let position = 0; position < this.offset; ) {
      signal.throwIfAborted();
      const want = Math.min(buffer.length, this.offset - position);
      const { bytesRead } = await this.#handle.read(buffer, 0, want, position);
      if (bytesRead === 0)
        throw new SyncError("write_error", `the part file of ${this.name} shrank while read`);
      for (const hash of hashes) hash.update(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
  }

  push(chunk: Uint8Array, release?: () => void): Promise<void> | undefined {
    return this.#writer.push(chunk, release);
  }

  /**
   * Writes what is left, without an fsync: the commit fsyncs the part once its final mode is
   * set, so that one fsync covers both (see `LocalDestination.commit`).
   */
  async finish(): Promise<void> {
    await this.#writer.finish();
  }

  /** The descriptor, for the commit: mode set and identity checked through it, not by name. */
  get handle(): OpenFile {
    return this.#handle;
  }

  /**
   * Gives the finished part the mode (and owner) it is committed with, then fsyncs it. The one
   * fsync comes after them (`finish` only wrote): bytes and inode are durable together, so a power
   * loss after the rename cannot bring the file back with the part's private 0600 mode. Given away
   * (or opened to a group), the part may be written by others from then on, which would commit
   * their bytes as verified: a write moves the ctime, nothing of ours does, so a moved ctime is a
   * `write_error`. `sealed` (a failpoint) runs once owner and mode are set. `path`: for messages.
   * Resolves to the part's stats as made durable.
   */
  async seal(
    mode: number,
    owner: { uid: number; gid: number } | undefined,
    path: string,
    sealed?: () => Promise<void>,
  ): Promise<Stats> {
    // Calls on the descriptor that only touch its inode in memory: made at once.
    if (owner) this.#handle.chown(owner.uid, owner.gid);
    this.#handle.chmod(mode);
    const before = this.#handle.stat();
    await sealed?.();
    try {
      await this.#handle.sync();
    } catch (error) {
      throw writeError("fsync the part file of", path, error);
    }
    const after = this.#handle.stat();
    if (after.ctimeMs !== before.ctimeMs || after.size !== before.size)
      throw new SyncError(
        "write_error",
        `the part file of ${path} was changed by another process while it was made durable`,
      );
    return after;
  }

  /** Whether the name still leads to this very file (nobody swapped it). */
  stillAtItsName(): boolean {
    try {
      const now = lstatSync(join(this.folder, this.name));
      return now.isFile() && now.ino === this.#stats.ino && now.dev === this.#stats.dev;
    } catch {
      return false;
    }
  }

  async abandon(): Promise<boolean> {
    const resumable = await this.#writer.abandon();
    await this.#positional?.abandon();
    await this.close();
    return resumable;
  }

  async discard(): Promise<void> {
    await this.#writer.abandon();
    await this.#positional?.abandon();
    if (this.stillAtItsName()) {
      try {
        unlinkSync(join(this.folder, this.name));
      } catch {
        // gone already
      }
    }
    await this.close();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#handle.close();
  }
}

/** Why an opened file is not the kept part its record describes; `undefined` when it is. */
function refusalOf(stats: Stats, { file, closed }: ResumeCandidate): string | undefined {
  if (!stats.isFile()) return "the part file is not a regular file";
  if (stats.dev !== file.dev || stats.ino !== file.ino) return "the part file was replaced";
  const uid = process.getuid?.();
  if (uid !== undefined && stats.uid !== uid) return `the part file belongs to uid ${stats.uid}`;
  if (stats.nlink !== 1) return "the part file has other names (hard links)";
  if (closed ? stats.size !== file.size : stats.size < file.size)
    return `the part file holds ${stats.size} bytes, its record ${file.size}`;
  return undefined;
}
