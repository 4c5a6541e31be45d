/**
 * Hashing in a worker thread, fed without copies: so that a large body's hash runs beside its
 * receiving instead of after each read on the main thread (SHA-256 costs ~0.6 s of CPU per GiB).
 *
 * The protocol. Bytes to hash live in `SharedArrayBuffer`s (the HTTP client's receive slots are
 * shared, see h1/buffers.ts). Each buffer is made known to the worker once (a message on a port it
 * reads synchronously), then every range of it is published as one entry of a shared ring:
 * (buffer id, offset, length), and the count of entries `written` is stored. The worker hashes
 * entries strictly in ring order and stores the count `done` after each, so the bytes are hashed
 * exactly once each, in the order they were handed over. A buffer stays known to the worker for
 * the worker's life: the receive slots are kept and reused by the client (h1/buffers.ts), so
 * they are few. A range's memory stays the caller's responsibility until its `onHashed` is
 * called (`done` went past it): only then may it be written again. A transfer releases a receive slot once both its disk write and its hash are
 * done (see core/stream.ts).
 *
 * The main thread never blocks for the hot path: when the ring is full, ranges wait in a local
 * backlog; the worker posts a `progress` message every MiB and whenever it runs dry, at which the
 * main thread reads `done`, calls the `onHashed` due and refills the ring. The worker sleeps only
 * when the ring is empty (it says so first), and only then is it woken (`Atomics.notify`).
 *
 * Failure: a worker that fails or exits before its digests fails the transfer (`onFailure`,
 * `finish` rejects) — never a digest of bytes it did not hash — and no other worker is started in
 * this process (`hashWorkersUsable`): the retry hashes on the main thread, slower but sure. `close()` ends the worker (always
 * called, on every path). The worker keeps the process alive only while it has work (ranges not
 * yet hashed, or `finish` waiting): a paused socket does not, and a transfer waiting for the hash
 * must not see the process exit under it; an idle, forgotten worker does not hold the process.
 */
import type { MessagePort, Worker } from "node:worker_threads";
import { SyncError } from "../errors.js";
import type { ChecksumAlgorithm } from "./digest.js";
import {
  CONTROL,
  CONTROL_INTS,
  END_OF_DATA,
  ENTRY_INTS,
  type Registration,
  RING_ENTRIES,
  type ThreadData,
  type ThreadMessage,
} from "./hash-protocol.js";

/** Bytes copied in by `update` and not yet hashed beyond which `update` waits for the worker. */
const COPIED_LIMIT = 8 * 1024 * 1024;
/** How long `update` waits for the worker to make progress before it gives up on it. */
const STALL_MS = 30_000;

type Range = { id: number; offset: number; length: number };

let workersFailed = false;

/**
 * Whether hash workers may be started: not after one failed (its file missing from a damaged
 * install, a thread that crashed or stalled). Without this, every retry started another that
 * failed the same way, and the pair ended as a write error though nothing was wrong with the disk.
 */
export function hashWorkersUsable(): boolean {
  return !workersFailed;
}

export class HashWorker {
  readonly #worker: Worker;
  readonly #registrations: MessagePort;
  readonly #control: Int32Array;
  readonly #ring: Int32Array;
  readonly #ids = new Map<SharedArrayBuffer, number>();
  #nextId = 0;
  /** Ranges handed over (ring and backlog), and ranges the worker reported done. */
  #queued = 0;
  #published = 0;
  #done = 0;
  #backlog: Range[] = [];
  /** `onHashed` callbacks by range sequence, oldest first; cleared once called. */
  #waiting: Array<{ sequence: number; onHashed: () => void } | undefined> = [];
  #waitingHead = 0;
  /** Bytes copied in and not yet hashed: [sequence, bytes] oldest first. */
  #copied: Array<[number, number]> = [];
  #copiedBytes = 0;
  #failure: SyncError | undefined;
  #closed = false;
  /** Whether the worker keeps the process alive now (it has work). */
  #referenced = false;
  #result:
    | {
        resolve: (digests: Map<ChecksumAlgorithm, string>) => void;
        reject: (error: unknown) => void;
      }
    | undefined;
  /** Told once when the worker fails (the transfer stops at once). */
  onFailure: ((error: SyncError) => void) | undefined;

  /** Starts a worker hashing with every one of `algorithms` (each once). */
  constructor(algorithms: readonly ChecksumAlgorithm[]) {
    // Loaded here: only a large transfer needs a thread; at start-up it cost every run ~3 ms.
    const { MessageChannel, Worker } = process.getBuiltinModule("node:worker_threads");
    const channel = new MessageChannel();
    this.#registrations = channel.port1;
    const control = new SharedArrayBuffer(CONTROL_INTS * 4);
    const ring = new SharedArrayBuffer(RING_ENTRIES * ENTRY_INTS * 4);
    this.#control = new Int32Array(control);
    this.#ring = new Int32Array(ring);
    const workerData: ThreadData = {
      algorithms: [...new Set(algorithms)],
      control,
      ring,
      registrations: channel.port2,
    };
    this.#worker = new Worker(new URL("./hash-thread.js", import.meta.url), {
      workerData,
      transferList: [channel.port2],
      // The thread only hashes views of shared memory and allocates next to nothing, but its
      // isolate would grow a young generation of its own like the main thread's: capped, a 4 GiB
      // transfer peaks ~2 MiB lower (78.5 against 80.4 MiB, same speed; docs/performance.md).
      resourceLimits: { maxYoungGenerationSizeMb: 1 },
    });
    this.#worker.unref();
    this.#worker.on("message", (message: ThreadMessage) => this.#onMessage(message));
    this.#worker.on("error", (error) => this.#fail(error.message));
    this.#worker.on("exit", (code) => this.#fail(`it exited (code ${code}) before its digests`));
  }

  /**
   * Hashes `bytes` (a view into a `SharedArrayBuffer`) after everything handed over before, without
   * copying them: they must not change until `onHashed` is called. After `close()` or a failure,
   * `onHashed` is called at once (nothing will read the bytes). Bytes not in shared memory are
   * copied (`update`) and `onHashed` called at once.
   */
  lend(bytes: Uint8Array, onHashed: () => void): void {
    if (this.#closed || this.#failure) {
      onHashed();
      return;
    }
    if (!(bytes.buffer instanceof SharedArrayBuffer)) {
      this.update(bytes);
      onHashed();
      return;
    }
    const sequence = this.#hand(this.#idOf(bytes.buffer, false), bytes.byteOffset, bytes.length);
    this.#waiting.push({ sequence, onHashed });
  }

  /**
   * Hashes a copy of `bytes` after everything handed over before (for bytes not in shared memory:
   * a kept part read back). Waits, blocking, while more than 8 MiB of copies are not hashed yet.
   * Throws when the worker failed.
   */
  update(bytes: Uint8Array): void {
    if (this.#failure) throw this.#failure;
    if (this.#closed) throw new Error("the hash worker is closed");
    this.#waitForCopies(COPIED_LIMIT - bytes.length);
    const buffer = new SharedArrayBuffer(Math.max(1, bytes.length));
    new Uint8Array(buffer).set(bytes);
    const sequence = this.#hand(this.#idOf(buffer, true), 0, bytes.length);
    this.#copied.push([sequence, bytes.length]);
    this.#copiedBytes += bytes.length;
  }

  /** Every byte handed over is hashed: resolves to each algorithm's hex digest. Called once. */
  finish(): Promise<Map<ChecksumAlgorithm, string>> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.reject(new Error("the hash worker is closed"));
    const result = new Promise<Map<ChecksumAlgorithm, string>>((resolve, reject) => {
      this.#result = { resolve, reject };
    });
    this.#hand(END_OF_DATA, 0, 0);
    return result;
  }

  /** Ends the worker and calls every `onHashed` still due (their bytes are free). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#worker.removeAllListeners("exit");
    this.#worker.on("error", () => {});
    void this.#worker.terminate().catch(() => {});
    this.#registrations.close();
    this.#result?.reject(new Error("the hash worker was closed before its digests"));
    this.#result = undefined;
    this.#releaseAll();
  }

  /** The worker's registration id for `buffer`, registering it first if need be. */
  #idOf(buffer: SharedArrayBuffer, once: boolean): number {
    const known = once ? undefined : this.#ids.get(buffer);
    if (known !== undefined) return known;
    const id = this.#nextId;
    this.#nextId = (this.#nextId + 1) % 0x7fffffff;
    if (!once) this.#ids.set(buffer, id);
    const registration: Registration = { id, buffer, once };
    this.#registrations.postMessage(registration);
    return id;
  }

  /** Queues one range; returns its sequence number. */
  #hand(id: number, offset: number, length: number): number {
    this.#observe();
    if (!this.#referenced) {
      this.#referenced = true;
      this.#worker.ref();
    }
    const sequence = this.#queued;
    this.#queued += 1;
    if (this.#backlog.length === 0 && this.#published - this.#done < RING_ENTRIES)
      this.#publish({ id, offset, length });
    else this.#backlog.push({ id, offset, length });
    return sequence;
  }

  #publish(range: Range): void {
    const at = (this.#published & (RING_ENTRIES - 1)) * ENTRY_INTS;
    this.#ring[at] = range.id;
    this.#ring[at + 1] = range.offset;
    this.#ring[at + 2] = range.length;
    this.#published += 1;
    Atomics.store(this.#control, CONTROL.written, this.#published | 0);
    if (Atomics.load(this.#control, CONTROL.sleeping) === 1)
      Atomics.notify(this.#control, CONTROL.written);
  }

  /** Reads the worker's progress: calls the `onHashed` due, forgets hashed copies, refills the ring. */
  #observe(): void {
    const done = Atomics.load(this.#control, CONTROL.done);
    this.#done += (done - (this.#done | 0)) | 0;
    while (this.#copied.length > 0 && (this.#copied[0] as [number, number])[0] < this.#done)
      this.#copiedBytes -= (this.#copied.shift() as [number, number])[1];
    while (this.#backlog.length > 0 && this.#published - this.#done < RING_ENTRIES)
      this.#publish(this.#backlog.shift() as Range);
    const waiting = this.#waiting;
    while (this.#waitingHead < waiting.length) {
      const next = waiting[this.#waitingHead] as { sequence: number; onHashed: () => void };
      if (next.sequence >= this.#done) break;
      waiting[this.#waitingHead] = undefined; // it holds its chunk, so the chunk's slot
      this.#waitingHead += 1;
      next.onHashed();
    }
    if (this.#waitingHead > 1024 && this.#waitingHead * 2 > waiting.length) {
      this.#waiting = waiting.slice(this.#waitingHead);
      this.#waitingHead = 0;
    }
    if (this.#referenced && this.#done === this.#queued && !this.#result) {
      this.#referenced = false;
      this.#worker.unref();
    }
  }

  /** Blocks until copies not yet hashed are at most `limit` bytes (or the worker stalls). */
  #waitForCopies(limit: number): void {
    let lastDone = this.#done;
    let since = performance.now();
    for (;;) {
      this.#observe();
      if (this.#copiedBytes <= Math.max(0, limit)) return;
      if (this.#done !== lastDone) {
        lastDone = this.#done;
        since = performance.now();
      } else if (performance.now() - since > STALL_MS) {
        throw this.#fail("it made no progress for 30 s");
      }
      Atomics.wait(this.#control, CONTROL.done, this.#done | 0, 50);
    }
  }

  #onMessage(message: ThreadMessage): void {
    if ("failed" in message) return void this.#fail(message.failed);
    if ("digests" in message) {
      this.#observe();
      this.#worker.removeAllListeners("exit");
      this.#result?.resolve(new Map(message.digests));
      this.#result = undefined;
      return;
    }
    this.#observe();
  }

  #fail(reason: string): SyncError {
    if (this.#failure || this.#closed) return this.#failure ?? new SyncError("write_error", reason);
    workersFailed = true;
    const failure = new SyncError(
      "write_error",
      `the hash worker failed: ${reason} (the next attempt hashes on the main thread)`,
      { retryable: true },
    );
    this.#failure = failure;
    this.#result?.reject(failure);
    this.#result = undefined;
    this.onFailure?.(failure);
    this.close();
    return failure;
  }

  #releaseAll(): void {
    const waiting = this.#waiting;
    const from = this.#waitingHead;
    this.#waiting = [];
    this.#waitingHead = 0;
    for (let index = from; index < waiting.length; index += 1)
      (waiting[index] as { onHashed: () => void }).onHashed();
  }
}
