/**
 * Expected digests matched to planned pairs: `--checksum` claims by source, `--checksum-file`
 * entries (GNU or BSD lines, as `sha256sum -c` reads them) by name.
 */
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import {
  type ChecksumAlgorithm,
  isChecksumAlgorithm,
  parseHexDigest,
} from "../checksums/digest.js";
import { UsageError } from "../errors.js";
import { redactUrl } from "../log/redact.js";
import type { ChecksumClaim } from "../options/normalize.js";
import { namesLocation } from "../sources/location.js";
import type { PlannedPair } from "./plan.js";

/** The pair a `--checksum` claim names (the only pair for a bare `HEX`); `UsageError` when none. */
export function claimFor(claim: ChecksumClaim, pairs: PlannedPair[]): PlannedPair {
  if (claim.source === undefined) {
    const [only] = pairs;
    if (!only || pairs.length > 1)
      throw new UsageError("--checksum", "--checksum needs SOURCE=HEX when there are many sources");
    return only;
  }
  const wanted = claim.source;
  const pair = pairs.find((p) => namesLocation(p.source, wanted));
  if (!pair)
    throw new UsageError(
      "--checksum",
      `--checksum names a source that is not being synced: ${redactUrl(wanted)}`,
    );
  return pair;
}

export type ChecksumEntries = Map<string, { algorithm: ChecksumAlgorithm; hex: string }>;

/**
 * Gives each pair the entry named by its path below its directory source (or its file name); a
 * bare file name also matches a deeper file, but only when no other pair shares that name.
 * Entries that match nothing are ignored: a release's SHA256SUMS lists more than one syncs.
 * Returns how many pairs were given one (none is worth a warning: a renamed destination …).
 */
export function matchChecksumFile(pairs: PlannedPair[], entries: ChecksumEntries): number {
  let matched = 0;
  const byBasename = new Map<string, number>();
  for (const pair of pairs)
    byBasename.set(basename(pair.name), (byBasename.get(basename(pair.name)) ?? 0) + 1);
  for (const pair of pairs) {
    if (pair.invalid) continue;
    const base = basename(pair.name);
    pair.expected =
      entries.get(pair.name) ?? (byBasename.get(base) === 1 ? entries.get(base) : undefined);
    if (pair.expected) matched += 1;
  }
  return matched;
}

const BSD_TAGS: Record<string, ChecksumAlgorithm> = {
  SHA256: "sha256",
  SHA512: "sha512",
  SHA1: "sha1",
  MD5: "md5",
};

/**
 * Reads a checksum file: GNU lines (`HEX  name`, `HEX *name`, `\HEX  escaped\nname`) in
 * `algorithm` — like `sha256sum -c`, the file does not say which — or BSD tagged lines
 * (`SHA256 (name) = HEX`), which do.
 */
export async function readChecksumFile(
  path: string,
  algorithm: ChecksumAlgorithm,
): Promise<ChecksumEntries> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new UsageError(
      "--checksum-file",
      `--checksum-file cannot be read: ${(error as Error).message}`,
    );
  }
  const entries: ChecksumEntries = new Map();
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trimEnd();
    if (line.trim() === "" || line.startsWith("#")) continue;
    const where = `--checksum-file line ${index + 1}`;
    const bsd = /^([A-Za-z0-9-]+) \((.+)\) ?= ?([0-9a-fA-F]+)$/.exec(line);
    const gnu = /^(\\?)([0-9a-fA-F]+) [ *](.+)$/.exec(line);
    let entry: { name: string; algorithm: ChecksumAlgorithm; hex: string };
    if (bsd) {
      const tagged = BSD_TAGS[(bsd[1] as string).toUpperCase()];
      if (!tagged) {
        throw new UsageError(
          "--checksum-file",
          `${where}: unsupported algorithm ${bsd[1]} (SHA256, SHA512, SHA1, MD5)`,
        );
      }
      entry = {
        name: bsd[2] as string,
        algorithm: tagged,
        hex: parseHexDigest(bsd[3] as string, tagged, "--checksum-file"),
      };
    } else if (gnu) {
      const name = gnu[1]
        ? (gnu[3] as string).replace(/\\(\\|n)/g, (_, c: string) => (c === "n" ? "\n" : "\\"))
        : (gnu[3] as string);
      let hex: string;
      try {
        hex = parseHexDigest(gnu[2] as string, algorithm, "--checksum-file");
      } catch {
        throw new UsageError(
          "--checksum-file",
          `${where}: not a ${algorithm} digest; give --checksum-algorithm to match the file (sha512sum output needs --checksum-algorithm sha512)`,
        );
      }
      entry = { name, algorithm, hex };
    } else {
      throw new UsageError(
        "--checksum-file",
        `${where} is not "HEX  name" or "ALGO (name) = HEX": ${JSON.stringify(line.slice(0, 80))}`,
      );
    }
    if (!isChecksumAlgorithm(entry.algorithm)) continue;
    entries.set(entry.name.replace(/^\.\//, ""), { algorithm: entry.algorithm, hex: entry.hex });
  }
  return entries;
}
