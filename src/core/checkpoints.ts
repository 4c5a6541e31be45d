/**
 * The checkpoints of a segmented download: about once a second, what every segment has written
 * is made durable (one fdatasync of the part) and then recorded under the lease's fence, so a
 * run killed at any moment (or a power loss) resumes each segment from bytes the disk really
 * holds. The rule is one-way: a segment's recorded `done` is never beyond a position whose
 * write completed before the fdatasync began. Bytes written after the last checkpoint are
 * fetched again by the next run — at most about a second's worth of transfer.
 */
import type { PositionalPart } from "../destinations/destination.js";
import { writeError } from "../errors.js";
import type { PartKeeper } from "./parts.js";
import type { SegmentState } from "./segment-stream.js";
import type { SplitSettings } from "./split-settings.js";

/** One segmented attempt's checkpoints: one at a time, each fdatasync before record. */
export class Checkpoints {
  readonly #states: readonly SegmentState[];
  readonly #part: PositionalPart;
  readonly #parts: PartKeeper;
  readonly #split: SplitSettings;
  readonly #onError: (error: unknown) => void;
  #running: Promise<void> | undefined;
  /**
   * The fdatasync that failed, as a `write_error`. Kept: the kernel reports a writeback error
   * once, so the next fdatasync would succeed and a record would claim bytes the disk never took.
   */
  #diskFailure: unknown;

  /** `onError`: a checkpoint failed (the store, the disk, a lost lease): the attempt must stop. */
  constructor(
    states: readonly SegmentState[],
    part: PositionalPart,
    parts: PartKeeper,
    split: SplitSettings,
    onError: (error: unknown) => void,
  ) {
    this.#states = states;
    this.#part = part;
    this.#parts = parts;
    this.#split = split;
    this.#onError = onError;
  }

  /** Records progress now, or joins the checkpoint under way. Never rejects (see `onError`). */
  run(): Promise<void> {
    this.#running ??= this.#checkpoint().then(
      () => {
        this.#running = undefined;
      },
      (error: unknown) => {
        this.#running = undefined;
        this.#onError(error);
      },
    );
    return this.#running;
  }

  /** Whether a checkpoint's fdatasync has failed: the part's bytes can no longer be trusted. */
  get diskFailed(): boolean {
    return this.#diskFailure !== undefined;
  }

  /** Resolves once no checkpoint is under way. */
  async idle(): Promise<void> {
    await this.#running;
  }

  async #checkpoint(): Promise<void> {
    // Taken before the fdatasync: only writes already complete are claimed.
    const marks = this.#states.map((state) => state.written);
    if (this.#diskFailure !== undefined) throw this.#diskFailure;
    if (marks.every((mark, i) => mark === this.#states[i]?.recorded)) return;
    try {
      await this.#part.datasync();
    } catch (error) {
      this.#diskFailure = writeError("flush", "the part file", error);
      throw this.#diskFailure;
    }
    await this.#parts.recordSegments(
      this.#states.map((state, i) => ({
        start: state.start,
        end: state.end,
        done: marks[i] as number,
      })),
    );
    for (const [i, state] of this.#states.entries()) state.recorded = marks[i] as number;
    this.#split.logger.emit("debug", "segment progress recorded", {
      ...this.#split.names,
      done: marks,
    });
  }
}
