/**
 * The digests one attempt computes in its single pass: the run's algorithm, and any other the
 * source states a digest in (`Repr-Digest: sha-512=…`), checked against what it states. Computed
 * here on the main thread, or by a hash worker (`offload`, see checksums/hash-worker.ts) for a
 * large body received into shared memory.
 */
import { type ChecksumAlgorithm, type Hasher, newHash } from "../checksums/digest.js";
import { HashWorker } from "../checksums/hash-worker.js";
import { SyncError } from "../errors.js";
import type { StatedDigest } from "../sources/source.js";

/** The hashes of one attempt, and their check against the digests the source states. */
export class Digests {
  readonly #algorithm: ChecksumAlgorithm;
  readonly #stated: readonly StatedDigest[];
  readonly #byAlgorithm = new Map<ChecksumAlgorithm, Hasher>();
  readonly #worker: HashWorker | undefined;

  /**
   * Hashes for `algorithm` and for every algorithm in `stated` (each once); in a worker thread
   * when `offload` (the caller must then `close()` on every path).
   */
  constructor(algorithm: ChecksumAlgorithm, stated: readonly StatedDigest[], offload = false) {
    this.#algorithm = algorithm;
    this.#stated = stated;
    const algorithms = [algorithm, ...stated.map((digest) => digest.algorithm)];
    if (offload) {
      this.#worker = new HashWorker(algorithms);
      return;
    }
    for (const name of algorithms)
      if (!this.#byAlgorithm.has(name)) this.#byAlgorithm.set(name, newHash(name));
  }

  /**
   * Every hash to feed the bytes to, in one pass. With a worker: one hasher that copies what it
   * is given to the worker (for bytes not in shared memory, as a kept part read back).
   */
  get hashes(): Hasher[] {
    const worker = this.#worker;
    if (!worker) return [...this.#byAlgorithm.values()];
    return [
      {
        update: (data: Buffer) => worker.update(data),
        digest: () => {
          throw new Error("a worker's digests come from Digests.verify()");
        },
      },
    ];
  }

  /** The hash worker, when offloaded: shared receive buffers are lent to it without a copy. */
  get worker(): HashWorker | undefined {
    return this.#worker;
  }

  /**
   * Finishes the hashes. Resolves to the run algorithm's hex digest and the headers whose stated
   * digests matched; throws a retryable `checksum_mismatch` when one does not (corrupted in
   * transit, or a server that lies): the caller must then discard the part. Rejects when the
   * hash worker failed.
   */
  async verify(): Promise<{ checksum: string; verifiedBy: string[] }> {
    const hex = this.#worker
      ? await this.#worker.finish()
      : new Map([...this.#byAlgorithm].map(([name, hash]) => [name, hash.digest("hex")]));
    for (const stated of this.#stated) {
      const actual = hex.get(stated.algorithm);
      if (actual !== stated.hex) {
        throw new SyncError(
          "checksum_mismatch",
          `the body does not match the ${stated.header} header: ${stated.algorithm} ${actual}, stated ${stated.hex}`,
          { retryable: true },
        );
      }
    }
    return {
      checksum: hex.get(this.#algorithm) as string,
      verifiedBy: [...new Set(this.#stated.map((stated) => stated.header))],
    };
  }

  /** Ends the hash worker, if any (idempotent). */
  close(): void {
    this.#worker?.close();
  }
}
