/** Checksum algorithms and digest arguments: pure, no I/O. */
import { createHash } from "node:crypto";
import { UsageError } from "../errors.js";
import { blake3Available, newBlake3 } from "./blake3.js";

/** Every algorithm, the default first; blake3 last (its 64 hex digits are taken as sha256's unless named). */
export const CHECKSUM_ALGORITHMS = ["sha256", "sha512", "sha1", "md5", "blake3"] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

const HEX_LENGTH: Record<ChecksumAlgorithm, number> = {
  sha256: 64,
  sha512: 128,
  sha1: 40,
  md5: 32,
  blake3: 64,
};

/**
 * The algorithm whose hex digests have `length` digits, for checksum files that do not say (as
 * `sha256sum -c`): 64 digits are sha256's — a blake3 digest must be named (`blake3:HEX`).
 */
export function checksumAlgorithmForLength(length: number): ChecksumAlgorithm | undefined {
  return CHECKSUM_ALGORITHMS.find((algorithm) => HEX_LENGTH[algorithm] === length);
}

export function isChecksumAlgorithm(value: string): value is ChecksumAlgorithm {
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(value);
}

/** An incremental hash: what every digest of the tool is computed with, in one pass. */
export interface Hasher {
  update(data: Buffer): unknown;
  digest(encoding: "hex"): string;
}

/** A new hasher for `algorithm` (blake3 only where `blake3Available()`). */
export function newHash(algorithm: ChecksumAlgorithm): Hasher {
  return algorithm === "blake3" ? newBlake3() : createHash(algorithm);
}

/** Refuses blake3 as bad input (`argument` named) where its optional native package is missing. */
export function requireBlake3(argument: string): void {
  if (!blake3Available())
    throw new UsageError(
      argument,
      `${argument}: blake3 needs the optional package @napi-rs/blake-hash, which is not installed for this platform (use sha256)`,
    );
}

/** Validates a hex digest for `algorithm`; returns it lower-cased. */
export function parseHexDigest(
  hex: string,
  algorithm: ChecksumAlgorithm,
  argument: string,
): string {
  const want = HEX_LENGTH[algorithm];
  if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== want) {
    throw new UsageError(
      argument,
      `${argument}: not a ${algorithm} digest (${want} hex digits expected): ${JSON.stringify(hex)}`,
    );
  }
  return hex.toLowerCase();
}

/**
 * Parses `--checksum`: `HEX`, `ALGO:HEX`, `SOURCE=HEX` or `SOURCE=ALGO:HEX`. The source is split
 * at the last `=`, since URLs may hold `=` in their query but a digest never does.
 */
export function parseChecksumArgument(
  value: string,
  defaultAlgorithm: ChecksumAlgorithm,
): { source: string | undefined; algorithm: ChecksumAlgorithm; hex: string } {
  const eq = value.lastIndexOf("=");
  const source = eq >= 0 ? value.slice(0, eq) : undefined;
  let digest = eq >= 0 ? value.slice(eq + 1) : value;
  if (source === "") throw new UsageError("--checksum", "--checksum: empty SOURCE before '='");
  let algorithm = defaultAlgorithm;
  const colon = digest.indexOf(":");
  if (colon >= 0) {
    const name = digest.slice(0, colon).toLowerCase();
    if (!isChecksumAlgorithm(name)) {
      throw new UsageError(
        "--checksum",
        `--checksum: unknown algorithm ${JSON.stringify(name)} (${CHECKSUM_ALGORITHMS.join(", ")})`,
      );
    }
    algorithm = name;
    if (algorithm === "blake3") requireBlake3("--checksum");
    digest = digest.slice(colon + 1);
  }
  return { source, algorithm, hex: parseHexDigest(digest, algorithm, "--checksum") };
}
