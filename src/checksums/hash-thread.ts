/**
 * The hash worker's thread (started by `hash-worker.ts`, which documents the protocol). It hashes,
 * in order, the byte ranges the main thread publishes in a shared ring, straight out of the
 * shared buffers they name: nothing is copied. After each range it advances the shared count of
 * ranges done, which is what lets the main thread reuse that memory.
 *
 * It sleeps (`Atomics.wait`) only when the ring is empty, saying so first, so that the main thread
 * wakes it only then. Any failure is posted as `{ failed }` and ends the thread: the transfer then
 * fails; a digest is posted only after every range published before the end was hashed.
 */
import {
  type MessagePort,
  parentPort,
  receiveMessageOnPort,
  workerData,
} from "node:worker_threads";
import { type ChecksumAlgorithm, type Hasher, newHash } from "./digest.js";
import {
  CONTROL,
  END_OF_DATA,
  ENTRY_INTS,
  PROGRESS_EVERY_BYTES,
  type Registration,
  type ThreadData,
} from "./hash-protocol.js";

const { algorithms, control, ring, registrations } = workerData as ThreadData;
const controlView = new Int32Array(control);
const ringView = new Int32Array(ring);
const mask = ringView.length / ENTRY_INTS - 1;
const hashes: Array<[ChecksumAlgorithm, Hasher]> = algorithms.map((name) => [name, newHash(name)]);
const buffers = new Map<number, Registration>();
const port = parentPort as NonNullable<typeof parentPort>;
/**
 * Crash tests: with `RESILIENT_SYNC_FAILPOINT=hash-worker-crash` the thread dies abruptly (no
 * message) once it has hashed 1 MiB, as a thread killed by a fault would.
 */
const crashAfterBytes =
  process.env.RESILIENT_SYNC_FAILPOINT === "hash-worker-crash" ? 1024 * 1024 : Infinity;
let hashedBytes = 0;

/** The buffer a range names: registered before the range was published, so its message is queued. */
function bufferOf(id: number): Registration {
  for (;;) {
    const known = buffers.get(id);
    if (known) return known;
    const next = receiveMessageOnPort(registrations as MessagePort);
    if (!next) throw new Error(`hash worker: buffer ${id} was never registered`);
    const registration = next.message as Registration;
    buffers.set(registration.id, registration);
  }
}

function run(): void {
  let read = Atomics.load(controlView, CONTROL.done);
  let sinceProgress = 0;
  for (;;) {
    const written = Atomics.load(controlView, CONTROL.written);
    if (written === read) {
      // About to sleep: tell the main thread what is done, then wait unless a range came meanwhile.
      if (sinceProgress > 0) {
        sinceProgress = 0;
        port.postMessage({ progress: true });
      }
      Atomics.store(controlView, CONTROL.sleeping, 1);
      if (Atomics.load(controlView, CONTROL.written) === read)
        Atomics.wait(controlView, CONTROL.written, read);
      Atomics.store(controlView, CONTROL.sleeping, 0);
      continue;
    }
    const at = (read & mask) * ENTRY_INTS;
    const id = ringView[at] as number;
    if (id === END_OF_DATA) {
      const digests = hashes.map(([name, hash]) => [name, hash.digest("hex")]);
      Atomics.store(controlView, CONTROL.done, (read + 1) | 0);
      port.postMessage({ digests });
      return;
    }
    const offset = ringView[at + 1] as number;
    const length = ringView[at + 2] as number;
    const registration = bufferOf(id);
    const bytes = Buffer.from(registration.buffer, offset, length);
    for (const [, hash] of hashes) hash.update(bytes);
    hashedBytes += length;
    if (hashedBytes >= crashAfterBytes) process.exit(1);
    if (registration.once) buffers.delete(id);
    read = (read + 1) | 0; // the counters are Int32 and wrap alike on both sides
    Atomics.store(controlView, CONTROL.done, read);
    sinceProgress += length;
    if (sinceProgress >= PROGRESS_EVERY_BYTES) {
      sinceProgress = 0;
      port.postMessage({ progress: true });
    }
  }
}

try {
  run();
} catch (error) {
  port.postMessage({ failed: error instanceof Error ? error.message : String(error) });
} finally {
  (registrations as MessagePort).close();
}
