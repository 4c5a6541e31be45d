/**
 * The plan: sources → pairs. Expands directory sources — local folders here, remote ones (a URL
 * ending in `/`) in `remote-dirs.ts` — filtered by `--pattern` and `--max-depth`, names every
 * destination, refuses two sources that would land on one destination (or one inside the other),
 * and matches expected checksums (`--checksum`, `--checksum-file`) to their pairs.
 */

import { realpath, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { isOwnFileName } from "../destinations/local/names.js";
import { errorCodeOf, UsageError } from "../errors.js";
import type { ChecksumClaim, GivenSource, ResolvedOptions } from "../options/normalize.js";
import {
  httpPathname,
  isRemoteDirectory,
  nameFromUrlPath,
  type SourceLocation,
} from "../sources/location.js";
import { claimFor, matchChecksumFile, readChecksumFile } from "./checksum-claims.js";
import { refuseSharedFolders } from "./dir-folders.js";
import { listDirectory, type SkippedLink } from "./local-walk.js";
import { refuseInsideLockDir } from "./lock-dir-guard.js";
import { refuseOverlaps } from "./overlaps.js";
import {
  checked,
  DirectoryFilePair,
  type DirectoryGroup,
  hasControlCharacter,
  isInside,
  type NamedFolder,
  NamedPair,
  OWN_NAMES_RESERVED,
  type PlannedPair,
  pairOf,
  refused,
} from "./pairs.js";
import type { RemoteListing } from "./remote-pages.js";

export type { PlannedPair } from "./pairs.js";

/** The pairs of a run, and what the walks found worth a warning. */
export interface Plan {
  pairs: PlannedPair[];
  /** Directory sources whose pattern matched no file (worth a warning). */
  emptyDirectories: string[];
  /** Links in directory sources the walk did not follow (worth a warning each). */
  skippedLinks: Array<{ source: string } & SkippedLink>;
  /** Entries of directory sources that are not regular files (FIFOs, sockets, devices). */
  skippedSpecial: Array<{ source: string; path: string; kind: string }>;
  /** How many pairs `--checksum-file` gave a digest (absent without one; none is worth a warning). */
  checksumFileMatched?: number;
  /** How many sources were directories (none: the directory options had nothing to act on). */
  directories: number;
}

/**
 * Plans every source of `options`. `listing` reads remote directories (the run's HTTP client and
 * origin health); a plan without one refuses them. Rejects with `UsageError` for a plan that
 * cannot be made (colliding destinations, two directory sources sharing one folder, a bad checksum file), and with the signal's reason when
 * the run is interrupted while listing.
 */
export async function plan(options: ResolvedOptions, listing?: RemoteListing): Promise<Plan> {
  const pairs: PlannedPair[] = [];
  const emptyDirectories: string[] = [];
  const skipped: Skipped = { skippedLinks: [], skippedSpecial: [] };
  const landing: NamedFolder = { root: options.artifactRoot };
  const found = { directories: 0 };
  // Before any listing: a plan refused must not have asked the servers first.
  await refuseSharedFolders(options);
  for (const given of options.sources) {
    // Loaded only for a remote directory: its HTML parser is a third of the start-up otherwise.
    const expanded = isRemoteDirectory(given.location)
      ? // Loaded only for a remote directory: a run of single files never pays for it.
        await (await import("./remote-dirs.js")).expandRemoteDirectory(
          given,
          options,
          remote(listing),
        )
      : await expand(given, options, skipped, landing, found);
    if (isRemoteDirectory(given.location)) found.directories += 1;
    if (expanded === "empty directory") emptyDirectories.push(given.location.display);
    // One at a time: spreading a hundred thousand pairs into push() overflows the stack.
    else for (const pair of expanded) pairs.push(pair);
  }
  await refuseInsideLockDir(pairs, options.lockDir);
  refuseOverlaps(pairs);
  let checksumFileMatched: number | undefined;
  if (options.checksumFile !== undefined) {
    const entries = await readChecksumFile(options.checksumFile, options.algorithm);
    checksumFileMatched = matchChecksumFile(pairs, entries);
  }
  // Each pair one `--checksum`: a second, different digest for it (the same source named twice,
  // or by two spellings) is refused rather than silently replacing the first.
  const claimed = new Map<PlannedPair, ChecksumClaim>();
  for (const claim of options.checksums) {
    const pair = claimFor(claim, pairs);
    const earlier = claimed.get(pair);
    if (earlier && (earlier.algorithm !== claim.algorithm || earlier.hex !== claim.hex))
      throw new UsageError(
        "--checksum",
        `--checksum gives ${pair.source.display} two different digests (${earlier.algorithm}:${earlier.hex}, ${claim.algorithm}:${claim.hex}): give the one expected`,
      );
    const fromFile = earlier ? undefined : pair.expected;
    if (fromFile && (fromFile.algorithm !== claim.algorithm || fromFile.hex !== claim.hex))
      throw new UsageError(
        "--checksum",
        `--checksum and --checksum-file give ${pair.source.display} two different digests (${claim.algorithm}:${claim.hex}, ${fromFile.algorithm}:${fromFile.hex}): give the one expected`,
      );
    claimed.set(pair, claim);
    pair.expected = { algorithm: claim.algorithm, hex: claim.hex };
  }
  return {
    pairs,
    emptyDirectories,
    ...skipped,
    ...(checksumFileMatched === undefined ? {} : { checksumFileMatched }),
    directories: found.directories,
  };
}

/** What the walks of a plan left out, worth a warning each. */
type Skipped = Pick<Plan, "skippedLinks" | "skippedSpecial">;

async function expand(
  given: GivenSource,
  options: ResolvedOptions,
  { skippedLinks, skippedSpecial }: Skipped,
  landing: NamedFolder,
  found: { directories: number },
): Promise<PlannedPair[] | "empty directory"> {
  const { location } = given;
  const single = options.destination;
  if (location.kind === "http") {
    if (single !== undefined) return [checked(pairOf(location, single, basename(single)))];
    let name: string;
    try {
      name = nameFromUrlPath(httpPathname(location.href), "SOURCE");
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return [refused(location, options.artifactRoot, message)];
    }
    return [named(landing, location, name)];
  }

  const info = await stat(location.href).catch(() => undefined);
  if (!info?.isDirectory()) {
    // A missing file is planned all the same: its transfer reports not_found.
    const destination = single ?? join(options.artifactRoot, basename(location.href));
    if (destination === location.href)
      return [refused(location, destination, "the source is its own destination")];
    // Named after the destination, as a URL given `-o` is: `--checksum-file` names match it.
    if (single !== undefined)
      return [checked(pairOf(location, destination, basename(destination)))];
    // The name it lands under comes from the source, as a URL's or a listed file's does.
    if (hasControlCharacter(basename(location.href)))
      return [
        refused(location, destination, "the file name holds control characters: use -o FILE"),
      ];
    return [named(landing, location, basename(location.href))];
  }

  found.directories += 1;
  // A directory goes where the user put it, never into the sample's default file name.
  const folder = options.directoryDestination;
  const root = folder ?? join(options.artifactRoot, basename(location.href));
  // Never mirror our own output or state back into itself.
  const skip = [options.artifactRoot, options.lockDir, root].filter(
    (dir) => isInside(dir, location.href) || dir === location.href,
  );
  let within: string;
  let listed: Awaited<ReturnType<typeof listDirectory>>;
  try {
    within = await realpath(location.href);
    listed = await listDirectory(
      location.href,
      options.pattern,
      skip,
      options.followSymlinks,
      options.maxDepth,
    );
  } catch (error) {
    return [refused(location, root, `the folder cannot be read (${errorCodeOf(error) ?? error})`)];
  }
  for (const link of listed.skipped) skippedLinks.push({ source: location.display, ...link });
  for (const entry of listed.special) skippedSpecial.push({ source: location.display, ...entry });
  const { files, unreadable } = listed;
  if (files.length === 0 && unreadable.length === 0) return "empty directory";
  const group: DirectoryGroup = {
    location,
    root,
    destinationWithin: folder ?? options.artifactRoot,
    within: options.followSymlinks ? undefined : within,
    folderModes: listed.folderModes,
  };
  // A folder below that cannot be read fails as a pair of its own: its files are not copied, and
  // the run says so (exit 1 beside the files that were), as rsync reports a partial transfer.
  // Refused pairs are labelled by what they name (the folder, the file: results and terminal
  // lines said the directory source's name); only a name that would leave the root is not used.
  const unread = unreadable.map(({ folder: rel, code }) => {
    const pair = new DirectoryFilePair(group, rel);
    return refusedFile(
      pair,
      pair.destination,
      `the folder cannot be read (${code}): its files are not copied`,
    );
  });
  return unread.concat(
    files.map((rel) => {
      const pair = new DirectoryFilePair(group, rel);
      const destination = pair.destination;
      if (rel.includes("\uFFFD"))
        return refusedFile(pair, destination, "the file name is not valid UTF-8");
      if (hasControlCharacter(rel))
        return refusedFile(pair, destination, "the file name holds control characters");
      if (!isInside(destination, root))
        return refusedFile(pair, root, "the file name would leave the artifact root");
      return isOwnFileName(basename(destination))
        ? refusedFile(pair, destination, OWN_NAMES_RESERVED)
        : pair;
    }),
  );
}

/**
 * A source landing in `folder` under `name` (a single path segment): refused when the name is
 * one of ours.
 */
function named(folder: NamedFolder, location: SourceLocation, name: string): PlannedPair {
  if (!isOwnFileName(name)) return new NamedPair(folder, location, name);
  const pair = refused(location, join(folder.root, name), OWN_NAMES_RESERVED);
  pair.destinationWithin = folder.root;
  return pair;
}

/** A file of a directory source refused up front (at `destination`), as the plain pair it fails as. */
function refusedFile(file: DirectoryFilePair, destination: string, reason: string): PlannedPair {
  const pair = refused(file.source, destination, reason);
  pair.destinationWithin = file.destinationWithin;
  if (file.within !== undefined) pair.within = file.within;
  return pair;
}

function remote(listing: RemoteListing | undefined): RemoteListing {
  if (!listing) throw new Error("a remote directory source needs a RemoteListing to be planned");
  return listing;
}
