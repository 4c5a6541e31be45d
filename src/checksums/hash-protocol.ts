/**
 * What the main thread and the hash worker share (see `hash-worker.ts` for the protocol). Kept
 * apart so that the worker's file loads nothing of the main thread's side.
 */
import type { MessagePort } from "node:worker_threads";
import type { ChecksumAlgorithm } from "./digest.js";

/** Indices into the shared control words (an `Int32Array`). */
export const CONTROL = {
  /** Ranges published by the main thread so far (wraps as an Int32). */
  written: 0,
  /** Ranges the worker has hashed so far (wraps as an Int32). */
  done: 1,
  /** 1 while the worker waits (or is about to) for `written` to change. */
  sleeping: 2,
} as const;
export const CONTROL_INTS = 4;

/** Each ring entry: buffer id, byte offset, byte length. */
export const ENTRY_INTS = 3;
/** The buffer id that ends the data: the worker then posts its digests. */
export const END_OF_DATA = -1;
/** Ranges the ring holds (a power of two: the counters wrap at 2^32). */
export const RING_ENTRIES = 4096;
/** The worker tells the main thread of its progress at least this often while busy. */
export const PROGRESS_EVERY_BYTES = 1024 * 1024;

/** A shared buffer made known to the worker, by id. `once`: forgotten after its one range. */
export interface Registration {
  id: number;
  buffer: SharedArrayBuffer;
  once: boolean;
}

/** The worker's `workerData`. */
export interface ThreadData {
  algorithms: ChecksumAlgorithm[];
  control: SharedArrayBuffer;
  ring: SharedArrayBuffer;
  /** Where registrations arrive; read synchronously (`receiveMessageOnPort`). */
  registrations: MessagePort;
}

/** What the worker posts to the main thread. */
export type ThreadMessage =
  | { progress: true }
  | { digests: Array<[ChecksumAlgorithm, string]> }
  | { failed: string };
