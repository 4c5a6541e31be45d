/**
 * A response body as the connection receives it, read one of three ways:
 * - lent (`lend`): each chunk is a view into the slot it was read into, handed over with its
 *   release; the slot is reused once every piece of it is released (see buffers.ts). No copy, no
 *   stream machinery: the fast path, for transfers.
 * - as a `Readable` (anything else: index pages, tests): chunks are pushed as they come and their
 *   slots given away for good (never reused, so never overwritten). Transfers, segments and
 *   `-o -` lend.
 * - dumped (`dump`): read and dropped, so that the connection can carry the next request.
 * Until one is chosen, what arrives is held (one read at most: the network is not read further).
 * Backpressure reaches TCP: the connection reads only while the body `wantsData`. A failure is
 * handed on after every chunk that arrived before it.
 */
import { Readable } from "node:stream";
import type { BodyConsumer, LendingBody } from "../../source.js";
import type { Slot } from "./buffers.js";

/**
 * Lent bytes not yet released beyond which the network is not read (a consumer that never pauses,
 * or a hash worker running behind). The part writer holds at most two 2 MiB batches; the rest is
 * the hash worker's lag: 6 MiB keeps a 1 GiB transfer with a worker under 80 MiB of RSS (16 MiB
 * measured 86–124 MiB), and the worker never waits for bytes (it hashes slower than they come).
 */
export const LENT_LIMIT = 6 * 1024 * 1024;

/** What a body needs from its connection. */
export interface BodySource {
  /** Whether the body wants bytes may have changed: the connection reads, or stops reading. */
  flow(): void;
  /** The body is not wanted any more: the connection is closed (unless the body was complete). */
  abandon(): void;
}

type Mode = "held" | "stream" | "lent" | "dump";
type Dump = { limit: number; received: number; done: () => void };

export class H1Body extends Readable implements LendingBody {
  #mode: Mode = "held";
  #held: Array<{ chunk: Buffer; slot: Slot }> = [];
  /** Every byte of the body has arrived. */
  #complete = false;
  /** The network failed: handed on once what arrived before it has been read. */
  #failure: Error | undefined;
  #source: BodySource | undefined;
  #consumer: BodyConsumer | undefined;
  #paused = false;
  /** Lent bytes not released yet. */
  #lent = 0;
  /** Lent bytes beyond which the network is not read. */
  #lentLimit = LENT_LIMIT;
  /** The stream's buffer is full: wait for `_read`. */
  #full = false;
  #dump: Dump | undefined;

  constructor(source?: BodySource) {
    super({ highWaterMark: 256 * 1024 });
    this.#source = source;
    if (!source) this.#complete = true;
    // A body may fail before anyone listens (an abort while it waits to be read): that must not
    // be an unhandled 'error'. Readers still hear of it through their own listeners.
    this.on("error", () => {});
  }

  /** Whether the connection should read more of this body now. */
  get wantsData(): boolean {
    if (this.destroyed || this.#complete || this.#failure) return false;
    switch (this.#mode) {
      case "held":
        return this.#held.length === 0;
      case "stream":
        return !this.#full;
      case "lent":
        return !this.#paused && this.#lent < this.#lentLimit;
      default:
        return true; // dump
    }
  }

  get lendable(): boolean {
    return this.#mode === "held" && !this.destroyed;
  }

  /** Bytes of the body, read into `slot` (from the connection). */
  deliver(chunk: Buffer, slot: Slot): void {
    if (this.destroyed || chunk.length === 0) return;
    switch (this.#mode) {
      case "held":
        slot.refs += 1;
        this.#held.push({ chunk, slot });
        return;
      case "stream":
        slot.given = true;
        if (!this.push(chunk)) this.#full = true;
        return;
      case "lent":
        slot.refs += 1;
        this.#lendOne(chunk, slot);
        return;
      case "dump": {
        const dump = this.#dump as Dump;
        dump.received += chunk.length;
        if (dump.received > dump.limit) this.destroy();
        return;
      }
    }
  }

  /** The body is complete (from the connection). */
  finish(): void {
    if (this.destroyed || this.#complete) return;
    this.#complete = true;
    if (this.#mode === "stream") this.push(null);
    else if (this.#mode === "lent") this.#consumer?.end();
    else if (this.#mode === "dump") this.#dump?.done();
  }

  /** The body failed (from the connection): handed on after what arrived before it. */
  fail(error: Error): void {
    if (this.destroyed || this.#complete || this.#failure) return;
    this.#failure = error;
    if (this.#mode === "stream") {
      if (this.readableLength === 0) this.destroy(error);
    } else if (this.#mode === "lent") {
      this.#consumer?.error(error);
    } else if (this.#mode === "dump") {
      this.destroy();
    }
  }

  lend(consumer: BodyConsumer, limitBytes = LENT_LIMIT): void {
    if (!this.lendable) throw new Error("this body is already being read");
    this.#lentLimit = limitBytes;
    this.#mode = "lent";
    this.#consumer = consumer;
    const held = this.#held;
    this.#held = [];
    for (const { chunk, slot } of held) {
      if (this.destroyed) return;
      this.#lendOne(chunk, slot); // its reference was taken when it was held
    }
    if (this.destroyed) return;
    if (this.#complete) consumer.end();
    else if (this.#failure) consumer.error(this.#failure);
    else this.#source?.flow();
  }

  pauseLending(): void {
    this.#paused = true;
    this.#source?.flow();
  }

  resumeLending(): void {
    this.#paused = false;
    this.#source?.flow();
  }

  /**
   * Reads the rest of the body and drops it, so that the connection can be reused; a body longer
   * than `limit` bytes is cut instead (its connection closed). Never rejects.
   */
  dump(options: { limit: number } = { limit: 128 * 1024 }): Promise<void> {
    if (this.#mode !== "held" || this.destroyed) {
      this.destroy();
      return Promise.resolve();
    }
    this.#mode = "dump";
    let received = 0;
    for (const { chunk, slot } of this.#held) {
      received += chunk.length;
      slot.release();
    }
    this.#held = [];
    if (this.#complete || this.#failure || received > options.limit) {
      if (!this.#complete) this.destroy();
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.#dump = { limit: options.limit, received, done: resolve };
      this.#source?.flow();
    });
  }

  #lendOne(chunk: Buffer, slot: Slot): void {
    this.#lent += chunk.length;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      slot.release();
      const before = this.#lent;
      this.#lent -= chunk.length;
      if (before >= this.#lentLimit && this.#lent < this.#lentLimit) this.#source?.flow();
    };
    (this.#consumer as BodyConsumer).chunk(chunk, release);
  }

  override _read(): void {
    if (this.#mode === "held") {
      this.#mode = "stream";
      const held = this.#held;
      this.#held = [];
      for (const { chunk, slot } of held) {
        slot.given = true;
        slot.release();
        this.push(chunk);
      }
      if (this.#complete) this.push(null);
      else if (this.#failure && this.readableLength === 0) this.destroy(this.#failure);
    }
    this.#full = false;
    this.#source?.flow();
  }

  // A failure waits for the last chunk to be taken: `read` is how every chunk leaves the buffer
  // (flowing or not), whereas `_read` is not called again once nothing more is pushed.
  override read(size?: number): ReturnType<Readable["read"]> {
    const chunk = super.read(size);
    const failure = this.#failure;
    if (failure && this.#mode === "stream" && this.readableLength === 0 && !this.destroyed) {
      process.nextTick(() => this.destroy(failure));
    }
    return chunk;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    for (const { slot } of this.#held) slot.release();
    this.#held = [];
    if (!this.#complete) this.#source?.abandon();
    this.#dump?.done();
    callback(error);
  }
}
