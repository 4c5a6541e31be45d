/**
 * The memory sockets read into: slots of 256 KiB, taken from a free list the client shares and
 * given back to it, so that a long body is received into the same few megabytes over and over.
 *
 * Why 256 KiB: every read costs a system call and a pass through the parser, the body, the
 * hash and the part writer, whatever its size. With 64 KiB slots a 1 GiB body took ~16,400
 * reads; with 256 KiB, ~4,000–5,000 (a read takes what the socket holds, up to the room left),
 * and the user CPU time of a 1 GiB BLAKE3 transfer fell from 0.75 to 0.58 s
 * (docs/performance.md). Larger slots saved CPU but no more time, and cost more memory per
 * connection busy receiving (each holds the slot it reads into; an idle one gives it back).
 *
 * Why every free slot is kept: V8 does not count a `SharedArrayBuffer`'s memory toward what
 * makes it collect garbage (1,000 of 1 MiB made and dropped in turn peaked at 1,045 MiB of RSS,
 * the same with `ArrayBuffer`s at 74 MiB), so a slot dropped from the free list stays in memory
 * until some later full collection, and a new one is made in its place. With 16 large transfers
 * at once, and a free list of 32, that churn peaked at 1.8–2.6 GiB. Kept, the slots number at
 * most what the client ever had in use at once: bodies lend at most `LENT_LIMIT` each (body.ts).
 *
 * The rule that keeps a consumer's bytes intact: bytes of a slot handed to a consumer are never
 * written again until every consumer holding them has released them. Each connection reads into
 * its current slot from a cursor that only moves forward, so a read never lands on bytes handed
 * out earlier; the cursor goes back to a slot's start (or the slot to the free list) only when
 * its count of unreleased pieces is zero. A slot whose bytes went out as a plain stream chunk,
 * which nobody releases, is `given`: it is never reused at all (the garbage collector has it, in
 * time, see above: only index pages are read that way, and they are small). Forgetting a release
 * therefore costs memory, never data.
 *
 * Slots are backed by `SharedArrayBuffer`s so that a transfer can lend the very bytes it received
 * to a hash worker thread, without a copy (checksums/hash-worker.ts): to the socket and the disk
 * they are ordinary memory.
 */

export const SLOT_BYTES = 256 * 1024;
/** A read is given at least this much room; a slot with less left is done with. */
const MIN_READ_BYTES = 64 * 1024;

export class Slot {
  readonly buffer = Buffer.from(new SharedArrayBuffer(SLOT_BYTES));
  /** Pieces handed out and not yet released. */
  refs = 0;
  /** Handed out for good: never reused. */
  given = false;
  /** The slot a connection is reading into now. */
  current = false;
  readonly #pool: SlotPool;

  constructor(pool: SlotPool) {
    this.#pool = pool;
  }

  /** One piece of it was released. */
  release(): void {
    this.refs -= 1;
    if (this.refs === 0 && !this.current && !this.given) this.#pool.put(this);
  }
}

/** The free slots of one client, shared by its connections. */
export class SlotPool {
  readonly #free: Slot[] = [];
  readonly #keep: number;
  /** Slots ever made (tests watch it). */
  made = 0;

  /** `keep`: free slots held at most (tests); more are left to the garbage collector. */
  constructor(keep = Number.POSITIVE_INFINITY) {
    this.#keep = keep;
  }

  take(): Slot {
    const slot = this.#free.pop();
    if (slot) return slot;
    this.made += 1;
    return new Slot(this);
  }

  put(slot: Slot): void {
    if (slot.refs !== 0 || slot.given || slot.current) return;
    if (this.#free.length < this.#keep && !this.#free.includes(slot)) this.#free.push(slot);
  }

  get free(): number {
    return this.#free.length;
  }
}

/**
 * The room an idle connection reads into, shared by all. Node asks for the next read's room
 * right after each read, so the room asked for as a response ends would keep a slot for as long
 * as the connection stays idle. Nothing is expected then but the end of the connection (bytes
 * that come anyway close it). A read that lands here after the next request went out — the
 * first read of each answer on a reused connection — is copied into a fresh slot at once
 * (`landed`); the room is a slot's size, so that read is as large as any other (1 KiB made W2's
 * 16 KiB answers take two reads each: 7 % slower).
 */
const IDLE_ROOM = Buffer.alloc(SLOT_BYTES);

/** Where one connection's next read lands: `onread.buffer` asks `next()` before every read. */
export class ReadCursor {
  readonly #pool: SlotPool;
  #slot: Slot | undefined;
  /** Where the next read lands in the current slot. */
  #at = 0;
  #idle = false;

  constructor(pool: SlotPool) {
    this.#pool = pool;
  }

  /** No response is awaited: as `close`, the slot goes back and reads land in the idle room. */
  idle(): void {
    this.close();
  }

  /** A response is awaited again: reads take a slot. */
  busy(): void {
    this.#idle = false;
  }

  /** The room for the next read: the current slot past every byte read so far, or a fresh one. */
  next(): Buffer {
    if (this.#idle) return IDLE_ROOM;
    let slot = this.#slot;
    if (!slot || SLOT_BYTES - this.#at < MIN_READ_BYTES) {
      if (slot && slot.refs === 0 && !slot.given) {
        // Nothing read into it is held any more: read into it again from its start.
        this.#at = 0;
      } else {
        if (slot) slot.current = false;
        slot = this.#pool.take();
        slot.current = true;
        this.#slot = slot;
        this.#at = 0;
      }
    }
    return slot.buffer.subarray(this.#at);
  }

  /**
   * `bytes` were read into `room`, the room `next()` gave: returns where they are, in a slot
   * (`undefined`: they came while the connection was idle).
   */
  landed(bytes: number, room: Buffer): { slot: Slot; view: Buffer } | undefined {
    if (room.buffer !== IDLE_ROOM.buffer) {
      this.#at += bytes;
      return { slot: this.#slot as Slot, view: room };
    }
    if (this.#idle) return undefined;
    // The room was given while idle, and a request went out since: into a slot with them.
    const view = this.next();
    view.set(room.subarray(0, bytes));
    this.#at += bytes;
    return { slot: this.#slot as Slot, view };
  }

  /**
   * The connection is gone: its slot goes back to the pool once nothing in it is held, and any
   * later read lands in the idle room (Node asks for the next read's room even after a callback
   * that closed the connection: a slot given then would never come back).
   */
  close(): void {
    this.#idle = true;
    const slot = this.#slot;
    this.#slot = undefined;
    if (!slot) return;
    slot.current = false;
    this.#pool.put(slot);
  }
}
