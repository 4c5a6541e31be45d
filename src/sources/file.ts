import { constants, fstatSync, readlinkSync, type Stats } from "node:fs";
import { type FileHandle, open, stat } from "node:fs/promises";
import { sep } from "node:path";
import { type Readable, Transform } from "node:stream";
import { errorCodeOf, SyncError } from "../errors.js";
import type { OpenRequest, OpenResult, Source } from "./source.js";

/**
 * A local file. Its version is its size and mtime: unchanged ones are answered `not-modified`
 * without reading a byte, and a resume continues from the offset only while both still match.
 */
export class FileSource implements Source {
  readonly #path: string;
  readonly #within: string | undefined;

  /** `within`: a real folder path the file read must lie in (a file of a directory source). */
  constructor(path: string, within?: string) {
    this.#path = path;
    this.#within = within;
  }

  async open(request: OpenRequest): Promise<OpenResult> {
    let handle: FileHandle;
    try {
      handle = await open(this.#path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (error) {
      throw this.describeError(error);
    }
    let info: Stats;
    try {
      info = await handle.stat();
      if (!info.isFile())
        throw new SyncError("invalid_source", `${this.#path} is not a regular file`);
      this.#checkWithin(handle);
    } catch (error) {
      await handle.close().catch(() => {});
      throw this.describeError(error);
    }
    // A size of 0 is no version: procfs says it of files that hold bytes (`/proc/cpuinfo`), so
    // such a file is read every time (an empty one costs nothing) and its length is not known.
    const validators =
      info.size === 0 ? { mtimeMs: info.mtimeMs } : { size: info.size, mtimeMs: info.mtimeMs };
    const same = (v: { size?: number; mtimeMs?: number } | undefined) =>
      v !== undefined && v.size === info.size && v.mtimeMs === info.mtimeMs;
    if (same(request.unchangedIf)) {
      await handle.close().catch(() => {});
      return { kind: "not-modified" };
    }
    const offset =
      request.offset > 0 && request.offset <= info.size && same(request.resumeIf)
        ? request.offset
        : 0;
    // Read through the descriptor checked above: swapping the name for a link now changes nothing.
    // Each read allocates a buffer of `highWaterMark` bytes: sized to the file (up to 1 MiB), so
    // that a batch of small files does not allocate a megabyte apiece — a churn of memory outside
    // the heap that forced a full garbage collection every few files.
    const highWaterMark = Math.min(1 << 20, Math.max(8 << 10, info.size - offset + 1));
    const body = this.#checkedAtEnd(handle, info, offset, highWaterMark);
    return {
      kind: "body",
      body,
      offset,
      length: info.size === 0 ? undefined : info.size - offset,
      validators,
      stated: [],
      mode: info.mode & 0o777,
    };
  }

  /**
   * The file's bytes from `offset`, then, before the end is told, a look at the file again: a
   * file written in place while it was read (its size or mtime moved) fails the read (retried
   * from zero), since what was read may mix its old and new bytes — the length alone does not
   * show an edit that keeps the size. Not the ctime: a `chmod`, `chown` or new hard link (a
   * backup's `cp -al`) moves it without touching a byte.
   */
  #checkedAtEnd(
    handle: FileHandle,
    before: Stats,
    offset: number,
    highWaterMark: number,
  ): Readable {
    // Up to the size seen at the start: a file that grows meanwhile is told by the look at the
    // end. A file of size 0 is read to its end: procfs says 0 of files that hold bytes.
    const end = before.size > offset ? { end: before.size - 1 } : {};
    const read = handle.createReadStream({
      start: offset,
      ...end,
      highWaterMark,
      autoClose: false,
    });
    const path = this.#path;
    const checked = new Transform({
      highWaterMark,
      transform: (chunk, _encoding, done) => done(null, chunk),
      flush: (done) => {
        let after: Stats;
        try {
          // The descriptor's inode in memory: asked at once, not through the thread pool.
          after = fstatSync(handle.fd);
        } catch (error) {
          return done(this.describeError(error));
        }
        done(
          after.size === before.size && after.mtimeMs === before.mtimeMs
            ? null
            : new SyncError("network", `${path} changed while it was read: reading it again`, {
                retryable: true,
                discardPartial: true,
              }),
        );
      },
    });
    read.on("error", (error) => checked.destroy(this.describeError(error)));
    checked.once("close", () => {
      read.destroy();
      handle.close().catch(() => {});
    });
    return read.pipe(checked);
  }

  /**
   * What was opened must really lie in `within`: a link planted (or swapped in after planning)
   * to lead outside a directory source is refused. The kernel says where the descriptor leads.
   */
  #checkWithin(handle: FileHandle): void {
    if (this.#within === undefined) return;
    let real: string;
    try {
      real = readlinkSync(`/proc/self/fd/${handle.fd}`);
    } catch {
      return; // no /proc: the plan's check is all there is
    }
    if (!real.startsWith(this.#within.endsWith(sep) ? this.#within : this.#within + sep)) {
      throw new SyncError("invalid_source", `${this.#path} leads outside its source folder`);
    }
  }

  async check(unchangedIf: OpenRequest["unchangedIf"]): Promise<"unchanged" | "changed"> {
    const info = await stat(this.#path).catch((error: unknown) => {
      throw this.describeError(error);
    });
    if (!info.isFile())
      throw new SyncError("invalid_source", `${this.#path} is not a regular file`);
    return unchangedIf?.size === info.size && unchangedIf.mtimeMs === info.mtimeMs
      ? "unchanged"
      : "changed";
  }

  describeError(error: unknown): SyncError {
    if (error instanceof SyncError) return error;
    const code = errorCodeOf(error);
    if (code === "ENOENT" || code === "ENOTDIR") {
      return new SyncError("not_found", `${this.#path}: no such file`, { cause: error });
    }
    if (code === "EACCES" || code === "EPERM" || code === "EISDIR") {
      return new SyncError("invalid_source", `${this.#path}: cannot read (${code})`, {
        cause: error,
      });
    }
    // EIO, EMFILE, a file truncated while read …: worth another attempt.
    return new SyncError("network", `${this.#path}: read failed (${code ?? String(error)})`, {
      cause: error,
      retryable: true,
    });
  }
}
