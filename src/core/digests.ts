/**
 * The digests one attempt computes in its single pass: the run's algorithm, and any other the
 * source states a digest in (`Repr-Digest: sha-512=…`), checked against what it states.
 */
import { type ChecksumAlgorithm, type Hasher, newHash } from "../checksums/digest.js";
import { SyncError } from "../errors.js";
import type { StatedDigest } from "../sources/source.js";

/** The hashes of one attempt, and their check against the digests the source states. */
export class Digests {
  readonly #algorithm: ChecksumAlgorithm;
  readonly #stated: readonly StatedDigest[];
  readonly #byAlgorithm = new Map<ChecksumAlgorithm, Hasher>();

  /** Hashes for `algorithm` and for every algorithm in `stated` (each once). */
  constructor(algorithm: ChecksumAlgorithm, stated: readonly StatedDigest[]) {
    this.#algorithm = algorithm;
    this.#stated = stated;
    this.#byAlgorithm.set(algorithm, newHash(algorithm));
    for (const { algorithm: other } of stated)
      if (!this.#byAlgorithm.has(other)) this.#byAlgorithm.set(other, newHash(other));
  }

  /** Every hash to feed the bytes to, in one pass. */
  get hashes(): Hasher[] {
    return [...this.#byAlgorithm.values()];
  }

  /**
   * Finishes the hashes. Resolves to the run algorithm's hex digest and the headers whose stated
   * digests matched; throws a retryable `checksum_mismatch` when one does not (corrupted in
   * transit, or a server that lies): the caller must then discard the part.
   */
  verify(): { checksum: string; verifiedBy: string[] } {
    const hex = new Map([...this.#byAlgorithm].map(([name, hash]) => [name, hash.digest("hex")]));
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
}
