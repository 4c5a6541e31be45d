/**
 * A local part written at offsets, for segmented downloads: one `PartWriter` per segment, each
 * writing its own span strictly in order, all through the descriptor the part was opened with
 * (`O_EXCL | O_NOFOLLOW`, private): ownership is the single-stream part's, only the positions
 * differ. Segments never overlap, so their writes never touch the same bytes; within a segment
 * the writer's one-write-at-a-time rule keeps what is written a prefix of the segment, which is
 * what its record of progress and the prefix hasher rely on.
 */
import type { OpenFile } from "../../fs/open-file.js";
import type { PositionalPart, SegmentWriter } from "../destination.js";
import { PartWriter } from "./part-writer.js";

/** A segment's write batch: a quarter of what its body may have lent (see `writerAt`). */
const SEGMENT_BATCH_BYTES = 256 * 1024;

/** The positional view of one `LocalPart` (`LocalPart.positional`). */
export class PositionalWriter implements PositionalPart {
  readonly #handle: OpenFile;
  readonly #writers = new Set<PartWriter>();
  #size: number | undefined;

  /** `size`: the part's current size when it is reopened for a resume (already allocated). */
  constructor(handle: OpenFile, size?: number) {
    this.#handle = handle;
    this.#size = size;
  }

  /** The part's full size once allocated; `undefined` before. */
  get size(): number | undefined {
    return this.#size;
  }

  async allocate(size: number): Promise<void> {
    // ftruncate: the file reads as zeros until written, and takes no blocks for them. The
    // space was checked against the free space before (`checkSpace`).
    await this.#handle.truncate(size);
    this.#size = size;
  }

  writerAt(position: number, onWritten: (end: number) => void): SegmentWriter {
    // No background fdatasync per segment: progress is made durable by the checkpoints that
    // record it (core/segmented.ts), for all segments at once.
    const writer = new PartWriter(this.#handle, position, {
      syncEveryBytes: Number.POSITIVE_INFINITY,
      // Batches well under what a segment may have lent and unwritten (1 MiB, see
      // core/segment-stream.ts): a batch waiting to fill must never be what stops the body.
      batchBytes: SEGMENT_BATCH_BYTES,
      onWritten,
    });
    this.#writers.add(writer);
    return {
      get position() {
        return writer.position;
      },
      push: (chunk, release) => writer.push(chunk, release),
      flush: () => writer.flush(),
      // A segment's progress is trusted through its checkpoints (fdatasync, then record), not
      // through what its writer says here.
      abandon: async () => {
        await writer.abandon();
      },
    };
  }

  async read(buffer: Uint8Array, length: number, position: number): Promise<number> {
    const { bytesRead } = await this.#handle.read(buffer, 0, length, position);
    return bytesRead;
  }

  async datasync(): Promise<void> {
    await this.#handle.datasync();
  }

  /** Writes what each segment's writer still holds and waits for it; never throws. */
  async abandon(): Promise<void> {
    await Promise.all([...this.#writers].map((writer) => writer.abandon()));
  }
}
