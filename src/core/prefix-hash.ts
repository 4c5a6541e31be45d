/**
 * One pass of hashing over a file whose segments arrive out of order: the hashes always take
 * the file's contiguous prefix `[0, hashed)`, and it grows in two ways —
 *
 * - `offer(position, chunk)`: a chunk that arrives exactly at `hashed` is hashed from memory as
 *   it arrives (the segment holding the prefix, usually segment 0, costs no read);
 * - the pump: bytes at `hashed` that were not offered there (they belong to a later segment, or
 *   arrived while the hasher was behind) are read back through the part's descriptor once
 *   written (`readableEnd`), a bounded buffer at a time — from the page cache, in practice.
 *
 * Why every byte is hashed exactly once, in order: `hashed` is the only cursor; each `update`
 * is given bytes that start at `hashed`, and `hashed` advances by exactly their length in the
 * same synchronous step. An offer is taken only when it starts at `hashed` and no read is in
 * flight, so an offer and a read-back never both cover one byte: while a read is awaited the
 * cursor does not move and offers are declined (their bytes are read back later). A declined
 * chunk is never hashed from memory afterwards, and a read-back only covers bytes its segment
 * has finished writing, which are never written again — so what is read is what was written.
 * `finish` proves the end: `hashed` must reach `total`. Memory: one read buffer, whatever the
 * file's size or the segments' order (`test/core/prefix-hash.test.ts` checks all of this over
 * random segmentations, chunkings and completion orders against a one-shot hash).
 */

/** What the hasher reads back from: the part, through its own descriptor. */
export interface PrefixSource {
  /** Reads up to `length` bytes at `position` into `buffer`; resolves to the count read. */
  read(buffer: Uint8Array, length: number, position: number): Promise<number>;
  /**
   * Where the bytes from `position` on stop being written and final: `position` itself when the
   * byte at `position` is not (yet) in the file.
   */
  readableEnd(position: number): number;
}

/** Anything with `update` (a `node:crypto` Hash). */
export interface Updatable {
  update(data: Uint8Array): unknown;
}

/** The read-back buffer: 1 MiB, the size the single-stream resume reads kept parts in. */
const READ_BUFFER_BYTES = 1 << 20;

/** Hashes `[0, total)` of a part written in segments, in one pass (see the module's comment). */
export class PrefixHasher {
  readonly #hashes: readonly Updatable[];
  readonly #total: number;
  readonly #source: PrefixSource;
  readonly #buffer: Uint8Array;
  #hashed = 0;
  /** A pump is running (a read may be in flight): offers are declined meanwhile. */
  #pumping = false;
  #pump: Promise<void> = Promise.resolve();
  #failure: unknown;

  constructor(
    hashes: readonly Updatable[],
    total: number,
    source: PrefixSource,
    bufferBytes = READ_BUFFER_BYTES,
  ) {
    this.#hashes = hashes;
    this.#total = total;
    this.#source = source;
    this.#buffer = new Uint8Array(Math.max(1, Math.min(bufferBytes, total)));
  }

  /** Bytes hashed so far: the prefix `[0, hashed)`. */
  get hashed(): number {
    return this.#hashed;
  }

  /** The read-back buffer's size: all the memory the hasher holds. */
  get bufferBytes(): number {
    return this.#buffer.length;
  }

  /**
   * A chunk about to be written at `position`: hashed now if it continues the prefix, else
   * left to be read back once written. Never keeps a reference to it.
   */
  offer(position: number, chunk: Uint8Array): void {
    if (this.#pumping || position !== this.#hashed || this.#failure !== undefined) return;
    this.#update(chunk.subarray(0, this.#total - position));
  }

  /** Bytes were written somewhere: reads back whatever now continues the prefix. */
  poke(): void {
    if (this.#pumping || this.#failure !== undefined) return;
    this.#pumping = true;
    this.#pump = this.#readBack();
  }

  /**
   * Once every byte is written: hashes what is still unread and resolves when the prefix is the
   * whole file. Rejects with a read error, or when some byte could not be hashed.
   */
  async finish(signal?: AbortSignal): Promise<void> {
    await this.#pump;
    signal?.throwIfAborted();
    this.poke();
    await this.#pump;
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#hashed !== this.#total)
      throw new Error(`the part's prefix hash stopped at ${this.#hashed} of ${this.#total} bytes`);
  }

  async #readBack(): Promise<void> {
    try {
      for (;;) {
        const end = Math.min(this.#total, this.#source.readableEnd(this.#hashed));
        // The decision to stop and the flag's reset happen in one synchronous step, so a poke
        // that comes after this check starts a new pump, and one before it is seen by it.
        if (end <= this.#hashed) return;
        const want = Math.min(this.#buffer.length, end - this.#hashed);
        const got = await this.#source.read(this.#buffer, want, this.#hashed);
        if (got <= 0) throw new Error(`the part file ended at ${this.#hashed} while hashed`);
        this.#update(this.#buffer.subarray(0, Math.min(got, want)));
      }
    } catch (error) {
      this.#failure ??= error;
    } finally {
      this.#pumping = false;
    }
  }

  #update(bytes: Uint8Array): void {
    for (const hash of this.#hashes) hash.update(bytes);
    this.#hashed += bytes.length;
  }
}
