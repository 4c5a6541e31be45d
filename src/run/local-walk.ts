/**
 * The walk of a local directory source: which files below it are to be copied, and what it met
 * that is worth a word (links it did not follow, folders it could not read). The plan turns these
 * into pairs and warnings (`plan.ts`); remote directories have their own walk (`remote-walk.ts`).
 */
import type { Dirent } from "node:fs";
import { readdir, realpath, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { isOwnFileName } from "../destinations/local/names.js";
import { errorCodeOf } from "../errors.js";
import { isInside } from "./pairs.js";
import { patternMatcher } from "./pattern.js";

/** A link the walk did not follow, and why. */
export interface SkippedLink {
  /** The link's path. */
  link: string;
  reason: string;
}

/** What a walk found below a folder. */
export interface LocalListing {
  /** Files to copy: relative, `/`-separated, sorted. */
  files: string[];
  /**
   * Links left out: those leading outside the folder (without `follow`), links to folders, and
   * links whose target does not exist.
   */
  skipped: SkippedLink[];
  /** Entries that are neither files, folders nor links (FIFOs, sockets, devices), as rsync skips. */
  special: Array<{ path: string; kind: string }>;
  /** Folders whose entries could not be read (relative, `/`-separated), with the error's code. */
  unreadable: Array<{ folder: string; code: string }>;
  /** The permission bits of each folder read (relative, `/`-separated; `""`: the folder itself). */
  folderModes: Map<string, number>;
}

const LEAVES = "it leads outside the source folder (--follow-symlinks follows it)";
/** Why a link that cannot be resolved is left out, from `realpath`'s error code. */
function brokenLinkReason(code: string | undefined): string {
  if (code === "ENOENT" || code === "ENOTDIR") return "its target does not exist";
  if (code === "ELOOP") return "it is a loop of links";
  return `its target cannot be reached (${code ?? "unknown error"})`;
}
const FOLDER_LINK =
  "it leads to a folder: links to folders are not followed (give that folder as a source of its own)";

/**
 * The files below `dir` that `pattern` matches, leaving out `skip` folders, our own files and
 * files more than `maxDepth` levels down (1: those directly in `dir`). A link to a file is
 * followed when its target lies inside `dir` (or always, with `follow`). A folder that cannot be
 * read is named in `unreadable`, and the walk goes on with the others (Node's recursive `readdir`
 * gave up on the whole tree at the first one). Rejects only when `dir` itself cannot be read.
 */
export async function listDirectory(
  dir: string,
  pattern: string,
  skip: string[] = [],
  follow = false,
  maxDepth = Number.POSITIVE_INFINITY,
): Promise<LocalListing> {
  const matches = await patternMatcher(pattern);
  const realRoot = await realpath(dir);
  const listing: LocalListing = {
    files: [],
    skipped: [],
    special: [],
    unreadable: [],
    folderModes: new Map(),
  };
  // Depth first, one folder's entries at a time: the depth bound prunes folders, not only files.
  const pending: Array<{ folder: string; depth: number }> = [{ folder: dir, depth: 1 }];
  while (pending.length > 0) {
    const { folder, depth } = pending.pop() as { folder: string; depth: number };
    let entries: Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      if (folder === dir) throw error;
      const code = errorCodeOf(error) ?? "unknown error";
      listing.unreadable.push({ folder: relative(dir, folder).split(sep).join("/"), code });
      continue;
    }
    const mode = await stat(folder).then(
      (info) => info.mode & 0o777,
      () => undefined,
    );
    if (mode !== undefined)
      listing.folderModes.set(relative(dir, folder).split(sep).join("/"), mode);
    for (const entry of entries) {
      const full = join(folder, entry.name);
      if (skip.some((skipped) => full === skipped || isInside(full, skipped))) continue;
      if (entry.isDirectory()) {
        if (depth < maxDepth) pending.push({ folder: full, depth: depth + 1 });
        continue;
      }
      if (isOwnFileName(entry.name)) continue;
      const rel = relative(dir, full).split(sep).join("/");
      if (!matches(rel)) continue;
      if (entry.isFile()) {
        listing.files.push(rel);
        continue;
      }
      if (!entry.isSymbolicLink()) {
        listing.special.push({ path: full, kind: specialKind(entry) });
        continue;
      }
      let target: string;
      try {
        target = await realpath(full);
      } catch (error) {
        listing.skipped.push({ link: full, reason: brokenLinkReason(errorCodeOf(error)) });
        continue;
      }
      const kind = await stat(target).catch(() => undefined);
      if (kind?.isDirectory()) listing.skipped.push({ link: full, reason: FOLDER_LINK });
      else if (kind && !kind.isFile())
        listing.skipped.push({ link: full, reason: "it leads to a FIFO, socket or device" });
      if (!kind?.isFile()) continue;
      if (follow || isInside(target, realRoot)) listing.files.push(rel);
      else listing.skipped.push({ link: full, reason: LEAVES });
    }
  }
  listing.files.sort();
  listing.skipped.sort((a, b) => (a.link < b.link ? -1 : a.link > b.link ? 1 : 0));
  listing.special.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  listing.unreadable.sort((a, b) => (a.folder < b.folder ? -1 : a.folder > b.folder ? 1 : 0));
  return listing;
}

/** What a directory entry that is not a file, folder or link is, in words. */
function specialKind(entry: Dirent): string {
  if (entry.isFIFO()) return "named pipe";
  if (entry.isSocket()) return "socket";
  if (entry.isCharacterDevice()) return "character device";
  if (entry.isBlockDevice()) return "block device";
  return "unknown file type";
}
