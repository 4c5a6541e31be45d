/**
 * Writes a body into the part file without making the network wait for the disk: chunks are
 * gathered into batches written with one `writev` each, one batch in flight while the next one
 * fills, and the data written so far is flushed to disk in the background every
 * `syncEveryBytes`, so that the commit's fsync before the rename finds little left to do.
 *
 * One write at a time is what keeps the part file a contiguous prefix of the body at every
 * moment — after a kill, a failed write or an abandoned body, its size is exactly what can be
 * resumed. Two writes in flight could land out of order and leave a hole that reads as zeros.
 * Memory stays bounded: at most two batches are held. A batch that stops
 * growing (the body stalls) is written after `idleFlushMs`, so what arrived is on disk, ready
 * for a resume, even if the process is killed during the stall.
 */
/** What a `PartWriter` writes through: the part's own descriptor (`OpenFile`), or a test's stand-in. */
export interface PartDescriptor {
  writev(buffers: Uint8Array[], position: number): Promise<{ bytesWritten: number }>;
  /** The same write made at once, without the thread pool; absent: every write goes there. */
  writevSync?(buffers: Uint8Array[], position: number): number;
  datasync(): Promise<void>;
}

/**
 * The last batch is written at once, not through the thread pool, when it is at most this big and
 * nothing else is being written: it only copies into the page cache (the commit's fsync is
 * what waits for the disk), and a small file then costs one round trip less.
 */
const SYNC_WRITE_MAX_BYTES = 256 * 1024;

/**
 * The background flush's default interval. Linux leaves written pages dirty until a tenth of
 * the memory is dirty or 30 s have passed, so the disk idles while the body arrives and the
 * commit's fsync then waits for all of it; a flush every 8 MiB keeps it writing alongside.
 * 1 GiB: 1.27 → 1.19–1.21 s; 64 MiB over a link losing 1 %: 0.254–0.260 → 0.227–0.232 s
 * (docs/performance.md). 2 and 4 MiB gained nothing more.
 */
const SYNC_EVERY_BYTES = 8 * 1024 * 1024;

/**
 * Background flushes in flight at once across the process: each holds one of libuv's four pool
 * threads for as long as the disk takes, and many large transfers at once would otherwise leave
 * none for the writes themselves. A part that finds them all busy skips its turn: its bytes go
 * with its next flush, or with the commit's fsync. A flush that never returns (a dead network
 * mount) keeps its place, and background flushing stops for the process: the commit's fsync
 * would hang there all the same.
 */
export const MAX_FLUSHES_IN_FLIGHT = 2;
let flushesInFlight = 0;

export interface PartWriterOptions {
  batchBytes?: number;
  /**
   * Bytes written between background flushes (fdatasync); at most one is in flight per part,
   * `MAX_FLUSHES_IN_FLIGHT` in the process.
   */
  syncEveryBytes?: number;
  idleFlushMs?: number;
  /** A batch older than this is written at the next chunk, so a slow body reaches the disk steadily. */
  maxBatchAgeMs?: number;
  /** Called as each write completes, with the position its bytes end at (segmented parts). */
  onWritten?: (end: number) => void;
}

export class PartWriter {
  readonly #handle: PartDescriptor;
  readonly #batchBytes: number;
  #syncEveryBytes: number;
  #position: number;
  #batch: Uint8Array[] = [];
  #batchSize = 0;
  /** The releases of the batch's chunks: called once its write is over (see `push`). */
  #releases: Array<() => void> = [];
  /** Batches handed over and not yet written (at most two): each chained after the one before. */
  #inFlight = new Set<Promise<void>>();
  #last: Promise<void> = Promise.resolve();
  #failure: unknown;
  #unsynced = 0;
  #syncing: Promise<void> | undefined;
  readonly #idle: NodeJS.Timeout;
  readonly #maxBatchAgeMs: number;
  #batchStartedAt = 0;
  readonly #onWritten: ((end: number) => void) | undefined;

  constructor(handle: PartDescriptor, position: number, options: PartWriterOptions = {}) {
    this.#handle = handle;
    this.#position = position;
    this.#batchBytes = options.batchBytes ?? 2 * 1024 * 1024;
    this.#syncEveryBytes = options.syncEveryBytes ?? SYNC_EVERY_BYTES;
    this.#maxBatchAgeMs = options.maxBatchAgeMs ?? 100;
    this.#onWritten = options.onWritten;
    this.#idle = setTimeout(() => this.#flushBatch(), options.idleFlushMs ?? 20);
    this.#idle.unref();
  }

  /** Where the next byte goes: the bytes handed over so far (written or about to be). */
  get position(): number {
    return this.#position;
  }

  /**
   * Takes a chunk. Returns a promise when the caller should pause until it settles (too much is
   * waiting for the disk), `undefined` otherwise. Throws the first write error (the chunk is then
   * not taken). `release` is called once the write that carries the chunk is over (done or
   * failed: the kernel no longer reads its bytes), never before; not at all for a chunk that is
   * never written (a batch left after a failure).
   */
  push(chunk: Uint8Array, release?: () => void): Promise<void> | undefined {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#batchSize === 0) this.#batchStartedAt = performance.now();
    this.#batch.push(chunk);
    this.#batchSize += chunk.length;
    if (release) this.#releases.push(release);
    if (
      this.#batchSize < this.#batchBytes &&
      performance.now() - this.#batchStartedAt < this.#maxBatchAgeMs
    ) {
      this.#idle.refresh();
      return undefined;
    }
    this.#flushBatch();
    if (this.#inFlight.size < 2) return undefined;
    return Promise.race(this.#inFlight).then(() => {
      if (this.#failure !== undefined) throw this.#failure;
    });
  }

  /**
   * Writes what is left (a small last batch at once) and waits for every write. No fsync: the
   * commit fsyncs the part once its final mode is set, one fsync for both.
   */
  async finish(): Promise<void> {
    this.#writeLastBatchNow();
    await this.flush();
  }

  /**
   * Writes the batch still held right here when that is cheap and keeps the order: it is small,
   * nothing is in flight before it, and nothing failed. Otherwise `flush` writes it as usual.
   */
  #writeLastBatchNow(): void {
    const size = this.#batchSize;
    const handle = this.#handle;
    if (!handle.writevSync || size === 0 || size > SYNC_WRITE_MAX_BYTES) return;
    if (this.#inFlight.size > 0 || this.#failure !== undefined) return;
    const position = this.#position;
    let pending = this.#batch;
    const releases = this.#releases;
    this.#batch = [];
    this.#batchSize = 0;
    this.#releases = [];
    this.#position += size;
    try {
      // writev may write less than asked (a signal): continue where it stopped.
      for (let written = 0; written < size; ) {
        const bytes = handle.writevSync(pending, position + written);
        written += bytes;
        if (written < size) pending = remainder(pending, bytes);
      }
    } catch (error) {
      this.#failure ??= error;
      return;
    } finally {
      // Written or failed, the kernel no longer reads these bytes: their slots may be read into
      // again (a slot holding a piece never released is never reused).
      for (const release of releases) release();
    }
    this.#afterWrite(size);
    this.#onWritten?.(position + size);
  }

  /** Writes what is left and waits for every write (and a background sync), without an fsync. */
  async flush(): Promise<void> {
    clearTimeout(this.#idle);
    this.#flushBatch();
    await this.#settle();
    await this.#syncing;
    if (this.#failure !== undefined) throw this.#failure;
  }

  /**
   * After the body failed: writes what did arrive (it is good data, kept for a resume) and waits
   * for the writes and a background flush already started, starting none. Errors are not thrown
   * (the body's error is the story) but told: resolves to whether every write and flush
   * succeeded, that is, whether the part may be resumed. A failed flush in particular cannot be
   * found out later: the kernel reports a writeback error once, and the fsync of a resumed
   * part's commit would succeed over bytes the disk never took.
   */
  async abandon(): Promise<boolean> {
    clearTimeout(this.#idle);
    this.#syncEveryBytes = Number.POSITIVE_INFINITY;
    if (this.#failure === undefined) this.#flushBatch();
    await this.#settle().catch(() => {});
    await this.#syncing?.catch(() => {});
    return this.#failure === undefined;
  }

  #flushBatch(): void {
    if (this.#batchSize === 0 || this.#failure !== undefined) return;
    const buffers = this.#batch;
    const size = this.#batchSize;
    const position = this.#position;
    const releases = this.#releases;
    this.#batch = [];
    this.#batchSize = 0;
    this.#releases = [];
    this.#position += size;
    // Each write starts when the one before it has finished: in order, never side by side.
    const write = this.#last
      .then(() =>
        this.#failure === undefined ? this.#writeAll(buffers, position, size) : undefined,
      )
      .then(
        () => {
          this.#inFlight.delete(write);
          for (const release of releases) release();
          if (this.#failure !== undefined) return;
          this.#afterWrite(size);
          this.#onWritten?.(position + size);
        },
        (error: unknown) => {
          this.#inFlight.delete(write);
          for (const release of releases) release();
          this.#failure ??= error;
        },
      );
    this.#last = write;
    this.#inFlight.add(write);
  }

  async #writeAll(buffers: Uint8Array[], position: number, size: number): Promise<void> {
    let written = 0;
    let pending = buffers;
    // writev may write less than asked (a signal, a full pipe): continue where it stopped.
    while (written < size) {
      const { bytesWritten } = await this.#handle.writev(pending, position + written);
      written += bytesWritten;
      if (written < size) pending = remainder(pending, bytesWritten);
    }
  }

  #afterWrite(size: number): void {
    this.#unsynced += size;
    if (this.#unsynced < this.#syncEveryBytes || this.#syncing) return;
    if (flushesInFlight >= MAX_FLUSHES_IN_FLIGHT) return;
    this.#unsynced = 0;
    flushesInFlight += 1;
    this.#syncing = this.#handle.datasync().then(
      () => {
        flushesInFlight -= 1;
        this.#syncing = undefined;
      },
      (error: unknown) => {
        flushesInFlight -= 1;
        this.#syncing = undefined;
        this.#failure ??= error;
      },
    );
  }

  async #settle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
  }
}

/** The buffers that remain after the first `skip` bytes. */
function remainder(buffers: Uint8Array[], skip: number): Uint8Array[] {
  const rest: Uint8Array[] = [];
  let left = skip;
  for (const buffer of buffers) {
    if (left >= buffer.length) {
      left -= buffer.length;
      continue;
    }
    rest.push(left > 0 ? buffer.subarray(left) : buffer);
    left = 0;
  }
  return rest;
}
