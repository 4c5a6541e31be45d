/**
 * `OpenFile`: a file descriptor this process owns, with each call made the cheaper way for its
 * size. Calls that may wait for the disk (fsync, large writes, reads) go to the thread pool; calls
 * that only touch the inode in memory (fstat, fchmod, fchown, close, a small write into the page
 * cache) are made here and now: a round trip through the thread pool costs tens of microseconds
 * of the main thread's time (a futex hand-off there and an event-loop wake-up back), several
 * times the syscall itself, and a batch of small files pays it on every call.
 *
 * A raw descriptor has no garbage-collection safety net (a `FileHandle` closes itself when lost):
 * every owner must `close()` it on every path. `close()` may be called more than once.
 */
import {
  closeSync,
  fchmodSync,
  fchownSync,
  fdatasync,
  fstatSync,
  fsync,
  ftruncate,
  open,
  read,
  type Stats,
  writev,
  writevSync,
} from "node:fs";

export class OpenFile {
  readonly #fd: number;
  #closed = false;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** Opens `path` with `flags` (and `mode` for a new file) in the thread pool: a create may wait on the filesystem. */
  static open(path: string, flags: number, mode?: number): Promise<OpenFile> {
    return new Promise((resolve, reject) => {
      open(path, flags, mode, (error, fd) => (error ? reject(error) : resolve(new OpenFile(fd))));
    });
  }

  /** The descriptor, for calls this class does not make. Not to be closed by anyone else. */
  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#closed;
  }

  stat(): Stats {
    return fstatSync(this.#fd);
  }

  chmod(mode: number): void {
    fchmodSync(this.#fd, mode);
  }

  chown(uid: number, gid: number): void {
    fchownSync(this.#fd, uid, gid);
  }

  /** Writes `buffers` at `position`; may write less than asked (the caller continues). */
  writev(buffers: Uint8Array[], position: number): Promise<{ bytesWritten: number }> {
    return new Promise((resolve, reject) => {
      writev(this.#fd, buffers as NodeJS.ArrayBufferView[], position, (error, bytesWritten) =>
        error ? reject(error) : resolve({ bytesWritten }),
      );
    });
  }

  /** `writev` made here and now: for a small write, which only copies into the page cache. */
  writevSync(buffers: Uint8Array[], position: number): number {
    return writevSync(this.#fd, buffers as NodeJS.ArrayBufferView[], position);
  }

  read(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number | null,
  ): Promise<{ bytesRead: number }> {
    return new Promise((resolve, reject) => {
      read(this.#fd, buffer, offset, length, position, (error, bytesRead) =>
        error ? reject(error) : resolve({ bytesRead }),
      );
    });
  }

  truncate(size: number): Promise<void> {
    return new Promise((resolve, reject) => {
      ftruncate(this.#fd, size, (error) => (error ? reject(error) : resolve()));
    });
  }

  sync(): Promise<void> {
    return new Promise((resolve, reject) => {
      fsync(this.#fd, (error) => (error ? reject(error) : resolve()));
    });
  }

  datasync(): Promise<void> {
    return new Promise((resolve, reject) => {
      fdatasync(this.#fd, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Closes the descriptor (once; later calls do nothing). Never throws: a failed close leaves nothing to retry. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      closeSync(this.#fd);
    } catch {
      // EBADF/EIO on close: the descriptor is gone either way.
    }
  }
}
