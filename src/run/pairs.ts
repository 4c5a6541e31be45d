/**
 * Planned pairs and the checks every way of making one shares (a plain source, a local directory's
 * file, a remote directory's file): names that are ours, names that hold control characters, and
 * pairs refused up front so that they fail touching nothing.
 */
import { basename, join, resolve, sep } from "node:path";
import type { ChecksumAlgorithm } from "../checksums/digest.js";
import { isOwnFileName } from "../destinations/local/names.js";

export { hasControlCharacter } from "../destinations/local/names.js";

import { SyncError } from "../errors.js";
import type { SourceLocation } from "../sources/location.js";

/** One source and the destination it lands at, as the plan made them (see `JobSpec` for the run's form). */
export interface PlannedPair {
  source: SourceLocation;
  destination: string;
  /** The name `--checksum-file` entries are matched against: the path below a directory source, else the file name. */
  name: string;
  expected: { algorithm: ChecksumAlgorithm; hex: string } | undefined;
  /**
   * For a file of a directory source, what is read must lie in: the local folder's real path, or
   * the remote directory's URL (no userinfo), which redirects may not leave.
   */
  within?: string;
  /** The folder the user named that the destination's folders are made in (never through a link). */
  destinationWithin?: string;
  /** For a file of a local directory source: see `JobSpec.folderModes`. */
  readonly folderModes?: number[];
  /**
   * Set when the source cannot be synced at all (an unsafe name, a remote directory whose index
   * could not be read): it fails as such, touching nothing.
   */
  invalid?: SyncError;
}

/** A pair with nothing expected of it yet. */
export function pairOf(source: SourceLocation, destination: string, name: string): PlannedPair {
  return { source, destination, name, expected: undefined };
}

/** A pair that fails as `invalid_source` with `reason` (after the source's display name). */
export function refused(source: SourceLocation, destination: string, reason: string): PlannedPair {
  return failing(
    source,
    destination,
    new SyncError("invalid_source", `${source.display}: ${reason}`),
  );
}

/** A pair that fails with `error` as it is (its message already names the source). */
export function failing(
  source: SourceLocation,
  destination: string,
  error: SyncError,
): PlannedPair {
  return { ...pairOf(source, destination, ""), invalid: error };
}

/** A destination named like one of our own files (a part, a lock) could collide with them. */
export function checked(pair: PlannedPair): PlannedPair {
  return isOwnFileName(basename(pair.destination))
    ? refused(pair.source, pair.destination, OWN_NAMES_RESERVED)
    : pair;
}

/** Why a name of our own files is refused (part and lock files live beside destinations). */
export const OWN_NAMES_RESERVED =
  "names of resilient-sync's own files (*.resilient-sync.part, .resilient-sync-*.lock) are reserved";

/** Whether `path` lies strictly inside `dir` (both absolute, normalised). */
export function isInside(path: string, dir: string): boolean {
  return path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/** A folder pairs land in, shared by them: `root`, and its resolved form made on first use. */
export interface NamedFolder {
  root: string;
  /** `root` resolved, ending in `/` (see `pathBelow`). */
  rootPrefix?: string;
}

/** What the files of one directory source share: the source, where they land, what they are read in. */
export interface DirectoryGroup extends NamedFolder {
  /** The directory source's location (its files take its kind). */
  location: SourceLocation;
  /** The folder the user named, that the mirror's folders (under `root`) are made in. */
  destinationWithin: string;
  /** The folder's real path, unless links are followed. */
  within: string | undefined;
  /** A local folder's folders' permission bits, by relative path (`""`: the folder itself). */
  folderModes?: Map<string, number>;
}

/**
 * `name` (a plain relative path: no `.`, `..` or empty segment) below `folder.root`, as
 * `path.resolve(root, name)` would give it, without its character-by-character normalisation:
 * that was 300 bytes of garbage a pair, asked of every pair by the plan's checks. The resolved
 * root is kept on `folder` once made.
 */
function pathBelow(folder: NamedFolder, name: string): string {
  if (folder.rootPrefix === undefined) {
    const root = resolve(folder.root);
    folder.rootPrefix = root.endsWith(sep) ? root : `${root}${sep}`;
  }
  return folder.rootPrefix + name;
}

/**
 * A source that lands in a folder under its own name (a URL's last path segment, a local file's
 * name): what an input list of a hundred thousand URLs is planned as. A class rather than an
 * object literal so that every pair shares one hidden class (spread literals gave each its own
 * map and descriptors, ~200 bytes a pair), and its destination is derived when read rather than
 * kept as a string per pair.
 */
export class NamedPair implements PlannedPair {
  readonly #folder: NamedFolder;
  readonly source: SourceLocation;
  /** The name it lands under: a single path segment, never empty, `.` or `..`. */
  readonly name: string;
  expected: PlannedPair["expected"] = undefined;

  constructor(folder: NamedFolder, source: SourceLocation, name: string) {
    this.#folder = folder;
    this.source = source;
    this.name = name;
  }

  get destination(): string {
    return pathBelow(this.#folder, this.name);
  }

  get destinationWithin(): string {
    return this.#folder.root;
  }
}

/**
 * A file of a directory source as a planned pair that holds only its relative name and its
 * group: its paths are derived when read. A plan of a hundred thousand files is held whole until
 * the run takes its pairs, so this is most of what a plan costs (tens of bytes a file instead of
 * the half kilobyte that full paths, origins and location objects took).
 */
export class DirectoryFilePair implements PlannedPair {
  readonly #group: DirectoryGroup;
  /** The path below the directory source, `/`-separated (what `--checksum-file` names match). */
  readonly name: string;
  expected: PlannedPair["expected"] = undefined;

  constructor(group: DirectoryGroup, name: string) {
    this.#group = group;
    this.name = name;
  }

  get source(): SourceLocation {
    const path = join(this.#group.location.href, this.name);
    return {
      raw: path,
      kind: this.#group.location.kind,
      href: path,
      display: path,
      origin: `file://${path}`,
    };
  }

  get destination(): string {
    // `name` is a plain relative path the listing made (no `.`, `..` or empty segment).
    return pathBelow(this.#group, this.name);
  }

  get destinationWithin(): string {
    return this.#group.destinationWithin;
  }

  get within(): string | undefined {
    return this.#group.within;
  }

  get folderModes(): number[] | undefined {
    const modes = this.#group.folderModes;
    if (!modes) return undefined;
    // The source folder, then each folder down to the file's: "", "a", "a/b" for "a/b/f.txt".
    const folders = this.name.split("/").slice(0, -1);
    const chain: number[] = [];
    for (let depth = 0; depth <= folders.length; depth += 1) {
      const mode = modes.get(folders.slice(0, depth).join("/"));
      if (mode === undefined) return undefined;
      chain.push(mode);
    }
    return chain;
  }
}
