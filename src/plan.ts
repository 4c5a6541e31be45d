/**
 * The plan: sources → pairs. Expands directory sources (filtered by `--pattern`), names every
 * destination, refuses two sources that would land on one destination, and matches expected
 * checksums (`--checksum`, `--checksum-file`) to their pairs.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, isAbsolute, join, relative, resolve, sep } from "node:path";
import picomatch from "picomatch";
import { SyncError, UsageError } from "./errors.js";
import type { ChecksumClaim, GivenSource, ResolvedOptions } from "./options.js";
import { nameFromUrlPath, type SourceLocation } from "./sources/location.js";
import { PART_SUFFIX } from "./transfer/commit.js";
import { type ChecksumAlgorithm, checksumAlgorithmForLength } from "./transfer/digest.js";

export interface PlannedPair {
  source: SourceLocation;
  destination: string;
  expected: { algorithm: ChecksumAlgorithm; hex: string } | undefined;
  /** Set when the source cannot be synced at all (a name that would escape its folder): it fails as such, touching nothing. */
  invalid?: SyncError;
}

export async function plan(options: ResolvedOptions): Promise<PlannedPair[]> {
  const pairs: PlannedPair[] = [];
  for (const given of options.sources) pairs.push(...(await expand(given, options)));

  const seen = new Map<string, string>();
  for (const pair of pairs) {
    if (pair.invalid) continue;
    const other = seen.get(pair.destination);
    if (other !== undefined) {
      throw new UsageError(
        "SOURCE",
        `two sources map to one destination ${pair.destination}: ${other} and ${pair.source.display}`,
      );
    }
    seen.set(pair.destination, pair.source.display);
  }

  const fromFile =
    options.checksumFile === undefined ? new Map() : await readChecksumFile(options.checksumFile);
  for (const pair of pairs) {
    const rel = relative(options.artifactRoot, pair.destination).split(sep).join("/");
    pair.expected = fromFile.get(rel) ?? fromFile.get(basename(pair.destination));
  }
  for (const claim of options.checksums)
    claimFor(claim, pairs).expected = { algorithm: claim.algorithm, hex: claim.hex };
  return pairs;
}

async function expand(given: GivenSource, options: ResolvedOptions): Promise<PlannedPair[]> {
  const { location } = given;
  const single = options.destination;
  if (location.kind === "http") {
    if (single !== undefined) return [pairOf(location, single)];
    try {
      return [
        pairOf(
          location,
          join(options.artifactRoot, nameFromUrlPath(new URL(location.href).pathname, "SOURCE")),
        ),
      ];
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return [
        {
          ...pairOf(location, options.artifactRoot),
          invalid: new SyncError("invalid_source", `${location.display}: ${message}`),
        },
      ];
    }
  }
  const info = await stat(location.href).catch(() => undefined);
  if (!info?.isDirectory()) {
    // A missing file is planned all the same: its transfer reports not_found.
    return [pairOf(location, single ?? join(options.artifactRoot, basename(location.href)))];
  }
  const root = single ?? join(options.artifactRoot, basename(location.href));
  return (await listDirectory(location.href, options.pattern)).map((rel) => {
    const file: SourceLocation = {
      ...location,
      raw: join(location.href, rel),
      href: join(location.href, rel),
      display: join(location.href, rel),
      origin: `file://${join(location.href, rel)}`,
    };
    const destination = resolve(root, rel);
    if (hasControlCharacter(rel) || isAbsolute(rel) || !destination.startsWith(root + sep)) {
      return {
        ...pairOf(file, root),
        invalid: new SyncError("invalid_source", `${file.display}: unsafe file name`),
      };
    }
    return pairOf(file, destination);
  });
}

function pairOf(source: SourceLocation, destination: string): PlannedPair {
  return { source, destination, expected: undefined };
}

/** The files below `dir` (relative, `/`-separated, sorted) that `pattern` matches. Part files of ours are never taken. */
export async function listDirectory(dir: string, pattern: string): Promise<string[]> {
  const matches = picomatch(pattern, { dot: true });
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    const full = join(entry.parentPath, entry.name);
    const isFile =
      entry.isFile() ||
      (entry.isSymbolicLink() && (await stat(full).catch(() => undefined))?.isFile());
    if (!isFile || entry.name.endsWith(PART_SUFFIX)) continue;
    const rel = relative(dir, full).split(sep).join("/");
    if (matches(rel)) files.push(rel);
  }
  return files.sort();
}

function hasControlCharacter(name: string): boolean {
  for (const char of name) {
    const code = char.charCodeAt(0);
    if (code < 0x20 || code === 0x7f || char === "\\") return true;
  }
  return false;
}

function claimFor(claim: ChecksumClaim, pairs: PlannedPair[]): PlannedPair {
  if (claim.source === undefined) {
    const [only] = pairs;
    if (!only || pairs.length > 1)
      throw new UsageError("--checksum", "--checksum needs SOURCE=HEX when there are many sources");
    return only;
  }
  const wanted = claim.source;
  const asPath = /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(wanted) ? undefined : resolve(wanted);
  const pair = pairs.find(
    (p) => p.source.raw === wanted || p.source.href === wanted || p.source.href === asPath,
  );
  if (!pair)
    throw new UsageError(
      "--checksum",
      `--checksum names a source that is not being synced: ${wanted}`,
    );
  return pair;
}

/**
 * Reads a `sha256sum`-style file: `HEX  name` or `HEX *name` (GNU), or `ALGO (name) = HEX` (BSD).
 * Each digest's algorithm follows from its length (GNU files do not name it).
 */
export async function readChecksumFile(
  path: string,
): Promise<Map<string, { algorithm: ChecksumAlgorithm; hex: string }>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new UsageError(
      "--checksum-file",
      `--checksum-file cannot be read: ${(error as Error).message}`,
    );
  }
  const entries = new Map<string, { algorithm: ChecksumAlgorithm; hex: string }>();
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const gnu = /^([0-9a-fA-F]+) [ *](.+)$/.exec(line);
    const bsd = /^[A-Za-z0-9-]+ \((.+)\) = ([0-9a-fA-F]+)$/.exec(line);
    const hex = gnu?.[1] ?? bsd?.[2];
    const name = gnu?.[2] ?? bsd?.[1];
    const algorithm = hex === undefined ? undefined : checksumAlgorithmForLength(hex.length);
    if (hex === undefined || name === undefined || algorithm === undefined) {
      throw new UsageError(
        "--checksum-file",
        `--checksum-file line ${index + 1} is not "HEX  name": ${JSON.stringify(line.slice(0, 80))}`,
      );
    }
    entries.set(name.replace(/^\.\//, ""), { algorithm, hex: hex.toLowerCase() });
  }
  return entries;
}
