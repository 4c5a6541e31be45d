/**
 * The part a job writes into, and its record in the state store. A kept part is resumed only
 * when its record says it belongs to this source and its writer is certainly done with it — it
 * closed it, or it was this lease's predecessor and is known dead — and only when the
 * destination finds that very file on disk (`Destination.openPart`). Anything else is discarded,
 * with a warning, and the transfer starts from zero in a new part.
 */
import type { PartSink, PositionalPart } from "../destinations/destination.js";
import { writeError } from "../errors.js";
import { sourceIdentity } from "../sources/identity.js";
import { canResumeWith, type Validators } from "../sources/source.js";
import { type Lease, LeaseLostError, type PartRecord, type SegmentRecord } from "../state/store.js";
import { type JobContext, underFence } from "./context.js";
import { refusalOf } from "./part-refusal.js";

/** Bodies up to this size are fetched again whole rather than resumed: a record would cost more than it saves. */
const RESUMABLE_FROM_BYTES = 64 * 1024;

export class PartKeeper {
  readonly #context: JobContext;
  readonly #lease: Lease;
  #sink: PartSink | undefined;
  #record: PartRecord | undefined;
  /** Whether a dead predecessor's stranded parts have been looked for (once per job). */
  #swept = false;

  constructor(context: JobContext, lease: Lease) {
    this.#context = context;
    this.#lease = lease;
  }

  get sink(): PartSink | undefined {
    return this.#sink;
  }

  /** The validators the open part's bytes were fetched under (to ask for a resume with). */
  get validators(): Validators | undefined {
    return this.#record?.validators;
  }

  /** Whether this destination's parts can be written at offsets (a download may be split). */
  get writesAtOffsets(): boolean {
    return this.#context.destination.writesAtOffsets === true;
  }

  /** The open part's segments as last recorded (durable progress), when it is fetched in segments. */
  get segments(): readonly SegmentRecord[] | undefined {
    return this.#record?.segments;
  }

  /**
   * Opens the kept part when it may be resumed (resolving to it), else clears away whatever the
   * record names and resolves to `undefined`.
   */
  async reopen(): Promise<PartSink | undefined> {
    if (this.#sink) return this.#sink;
    const kept = await this.#reopenRecorded();
    await this.#sweepOnce(kept);
    return kept;
  }

  /**
   * A predecessor killed between making a part and recording it (or with a part too small to
   * record) leaves it behind, known to nobody: once its lease is ours, such parts are removed.
   */
  async #sweepOnce(kept: PartSink | undefined): Promise<void> {
    if (this.#swept) return;
    this.#swept = true;
    if (this.#lease.predecessor.ended === "released") return;
    const { destination, runtime, names } = this.#context;
    const count = (await destination.sweepParts?.(kept?.file())) ?? 0;
    if (count > 0) runtime.logger.emit("info", "removed stranded part files", { ...names, count });
  }

  async #reopenRecorded(): Promise<PartSink | undefined> {
    const { store } = this.#context.runtime;
    const record = await store.readPart(this.#context.keys.destination);
    if (!record) return undefined;
    const refusal = refusalOf(record, sourceIdentity(this.#context.spec.source), this.#lease);
    if (refusal === undefined) {
      const sink = await this.#context.destination.openPart(
        { file: record.file, closed: record.closed },
        (reason) => {
          if (reason !== "") this.#warn(reason);
        },
      );
      if (sink.offset > 0) {
        this.#sink = sink;
        this.#record = record;
        return sink;
      }
      await sink.discard();
    } else if (refusal !== "") {
      this.#warn(refusal);
    }
    await this.#drop(record);
    return undefined;
  }

  /** Drops whatever kept part the record names, without looking at it (`--force`). */
  async forget(): Promise<void> {
    if (this.#sink) return this.discard().then(() => {});
    const record = await this.#context.runtime.store.readPart(this.#context.keys.destination);
    if (record) await this.#drop(record);
  }

  /**
   * Removes a kept part that will not be resumed. The record goes first, under the fence: a
   * holder that lost its lease stops there, before it could remove a file that the next holder
   * may have resumed.
   */
  async #drop(record: PartRecord): Promise<void> {
    await this.#delete();
    await this.#context.destination.discardKept(record.file);
  }

  /**
   * A new part for a body of `length` bytes fetched under `validators`, recorded before any byte
   * is written — unless it could never be resumed (no validator) or is too small to be worth it:
   * such a part is never kept, and a failed attempt removes it.
   */
  async create(validators: Validators, length: number | undefined): Promise<PartSink> {
    await this.discard();
    const sink = await this.#context.destination.openPart(undefined);
    this.#sink = sink;
    const worthKeeping =
      canResumeWith(validators) && !(length !== undefined && length <= RESUMABLE_FROM_BYTES);
    if (!worthKeeping) return sink;
    this.#record = {
      source: sourceIdentity(this.#context.spec.source),
      validators,
      file: sink.file(),
      fence: this.#lease.fence.value,
      holder: this.#lease.fence.token,
      closed: false,
    };
    await this.#write(this.#record);
    return sink;
  }

  /**
   * A new part for `total` bytes fetched in `segments` under `validators`: given its full size,
   * then recorded (segments and all) before any byte is written. The destination must write at
   * offsets (`writesAtOffsets`).
   */
  async createSegmented(
    validators: Validators,
    total: number,
    segments: SegmentRecord[],
  ): Promise<PositionalPart> {
    await this.discard();
    const sink = await this.#context.destination.openPart(undefined);
    this.#sink = sink;
    const positional = sink.positional?.();
    if (!positional) throw new TypeError("this destination's parts cannot be written at offsets");
    // Sized before it is recorded: a record never names a part smaller than it says. Killed in
    // between, the part is a stranded one, which the next holder sweeps.
    await positional.allocate(total);
    this.#record = {
      source: sourceIdentity(this.#context.spec.source),
      validators,
      file: sink.file(),
      fence: this.#lease.fence.value,
      holder: this.#lease.fence.token,
      closed: false,
      segments,
    };
    await this.#write(this.#record);
    return positional;
  }

  /**
   * Records each segment's progress, under the fence. The caller made those bytes durable
   * (fdatasync) first: a record never claims more than the disk holds.
   */
  async recordSegments(segments: SegmentRecord[]): Promise<void> {
    if (!this.#record) return;
    this.#record = {
      ...this.#record,
      segments,
      fence: this.#lease.fence.value,
      holder: this.#lease.fence.token,
      closed: false,
    };
    await this.#write(this.#record);
  }

  /** The reopened part is about to be written again: its record says so first. */
  async markWriting(): Promise<void> {
    if (!this.#record) return;
    this.#record = {
      ...this.#record,
      fence: this.#lease.fence.value,
      holder: this.#lease.fence.token,
      closed: false,
    };
    await this.#write(this.#record);
  }

  /**
   * The attempt stopped with the part worth keeping: its bytes are written, it is closed, and its
   * record says so — unless writing them failed (a flush to disk included): then it is
   * discarded. A part that cannot be recorded while the lease is ours (the store fails) is
   * removed: nobody could ever resume it. Once the lease is lost this holder removes nothing of a
   * recorded part: the next holder may have resumed it, and decides.
   */
  async keep(): Promise<void> {
    const sink = this.#sink;
    if (!sink) return;
    // Unrecorded (small): known to nobody else, so never anyone else's.
    if (!this.#record) return this.discard().then(() => {});
    if (!(await sink.abandon())) {
      // A write or flush failed: what the file shows may not be what the disk holds. Never
      // thrown over the body's own error: a record left behind names a file that is gone.
      if (await this.discard().catch(() => true)) this.#warn("writing it to disk failed");
      return;
    }
    this.#sink = undefined;
    this.#record = { ...this.#record, file: sink.file(), closed: true };
    try {
      await this.#write(this.#record);
    } catch {
      if (await this.#stillOurs()) await this.#context.destination.discardKept(this.#record.file);
      this.#record = undefined;
    }
  }

  /**
   * Drops the part and its record: its bytes can no longer be trusted or resumed. Resolves to
   * `false` when the lease was lost meanwhile: the part is then closed and left to its new holder.
   */
  async discard(): Promise<boolean> {
    const sink = this.#sink;
    const had = this.#record !== undefined;
    this.#sink = undefined;
    this.#record = undefined;
    if (had && !(await this.#stillOurs())) {
      await sink?.abandon(); // closed, and left to the lease's new holder
      return false;
    }
    await sink?.discard();
    if (had) await this.#delete();
    return true;
  }

  /** Whether the lease is still this job's (checked now). */
  async #stillOurs(): Promise<boolean> {
    return this.#lease.check().then(
      () => true,
      () => false,
    );
  }

  /** After the commit: the part is the destination now; only its record remains to go. */
  async committed(): Promise<void> {
    const had = this.#record !== undefined;
    this.#sink = undefined;
    this.#record = undefined;
    if (had) await this.#delete();
  }

  async #write(record: PartRecord): Promise<void> {
    await this.#guarded(() =>
      this.#context.runtime.store.writePart(
        this.#context.keys.destination,
        record,
        this.#lease.fence,
      ),
    );
  }

  async #delete(): Promise<void> {
    await this.#guarded(() =>
      this.#context.runtime.store.deletePart(this.#context.keys.destination, this.#lease.fence),
    );
  }

  /**
   * A state write: a refused fence means the lease is gone (the lease's own check says so and
   * stops the job); any other failure is the destination side's `write_error`, naming the state
   * file it could not write (a full lock dir is not a full destination).
   */
  async #guarded(write: () => Promise<void>): Promise<void> {
    try {
      await underFence(this.#lease, write);
    } catch (error) {
      if (error instanceof LeaseLostError) throw error;
      const at = (error as NodeJS.ErrnoException).path;
      throw writeError("record the part file", at ? `in ${at}` : "in the state store", error);
    }
  }

  #warn(reason: string): void {
    this.#context.runtime.logger.emit("warning", "discarded part file", {
      ...this.#context.names,
      reason,
    });
  }
}
