/** Where a body is hashed: on the main thread, or in a worker thread over the receive slots. */
import type { ChecksumAlgorithm } from "../checksums/digest.js";
import { hashWorkersUsable } from "../checksums/hash-worker.js";
import { lendingBody, type OpenResult } from "../sources/source.js";

type Body = Extract<OpenResult, { kind: "body" }>;

/**
 * Bodies at least this long (what is left to receive) are hashed in a worker thread. Whole
 * runs with SHA-256, in a worker against on the main thread: 64 MiB 0.23 against 0.20 s,
 * 128 MiB even, 256 MiB 0.45 against 0.47 s (0.46 against 0.63 s over a link losing 1 %).
 */
export const OFFLOAD_MIN_BYTES = 128 * 1024 * 1024;

/**
 * Whether this body is hashed in a worker thread (docs/performance.md has the measurements):
 * only a body lent from shared receive slots (the HTTP client's), long enough that the worker's
 * start-up (~20 ms, ~12 MiB) is worth it, and only for the slow algorithms (SHA-2, SHA-1, MD5:
 * ~0.6 s of CPU per GiB for SHA-256). BLAKE3 alone stays on the main thread: at ~0.2 s per GiB it
 * measured slower in a worker (the hand-over and the second thread cost more than it saves).
 * `RESILIENT_SYNC_HASH_WORKER=0` turns the worker off, `=1` on for any lent body (tests). Never
 * once a worker has failed in this process (`hashWorkersUsable`).
 */
export function offloadHashing(algorithm: ChecksumAlgorithm, opened: Body): boolean {
  const setting = process.env.RESILIENT_SYNC_HASH_WORKER;
  if (setting === "0" || !lendingBody(opened.body) || !hashWorkersUsable()) return false;
  if (setting === "1") return true;
  const algorithms = [algorithm, ...opened.stated.map((stated) => stated.algorithm)];
  return (
    opened.length !== undefined &&
    opened.length >= OFFLOAD_MIN_BYTES &&
    algorithms.some((algorithm) => algorithm !== "blake3")
  );
}
