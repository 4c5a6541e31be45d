/**
 * The atomic commit: data lives in a part file in the destination's own folder until it is
 * complete, fsynced and verified; then one rename puts it in place, and an fsync of the folder
 * makes the rename itself durable. Any crash before the rename leaves the old destination.
 */
import type { Stats } from "node:fs";
import { open, rename, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { errorCodeOf, writeError } from "../errors.js";
import { mkdirs } from "../mkdirs.js";

export const PART_SUFFIX = ".resilient-sync.part";

/** Where the data of `destination` is received: beside it, so the final rename never crosses filesystems. */
export function partPathFor(destination: string): string {
  return `${destination}${PART_SUFFIX}`;
}

/** What is at the destination's path now: a file's stats, or `undefined` when nothing is. */
export type DestinationInfo = Stats | undefined;

/**
 * Makes sure the destination can be written: its folder exists (created when missing), and no
 * directory stands at its path. Returns what is there, so the caller need not stat it again.
 */
export async function prepareDestination(destination: string): Promise<DestinationInfo> {
  const info = await stat(destination).catch((error: unknown) => {
    if (errorCodeOf(error) === "ENOENT") return undefined;
    throw writeError("inspect", destination, error);
  });
  if (info?.isDirectory()) {
    throw writeError(
      "write",
      destination,
      Object.assign(new Error("is a directory"), { code: "EISDIR" }),
    );
  }
  if (!info) {
    try {
      await mkdirs(dirname(destination));
    } catch (error) {
      throw writeError("create the folder of", destination, error);
    }
  }
  return info;
}

/**
 * Renames the finished part file over the destination. The rename is made durable by an fsync
 * of the folder — at once, or, when `dirtyFolders` is given, once per folder at the end of the
 * run (`syncFolders`). Until then a power loss may undo the rename, leaving the old destination:
 * its marker then no longer matches and the next run fetches it again.
 */
export async function commitPart(
  partPath: string,
  destination: string,
  dirtyFolders?: Set<string>,
): Promise<void> {
  try {
    await rename(partPath, destination);
  } catch (error) {
    throw writeError("rename into", destination, error);
  }
  if (dirtyFolders) dirtyFolders.add(dirname(destination));
  else await fsyncDirectory(dirname(destination));
}

/** Fsyncs every folder a run renamed files into; returns those that failed, with the error. */
export async function syncFolders(folders: Iterable<string>): Promise<Map<string, Error>> {
  const failed = new Map<string, Error>();
  await Promise.all(
    [...folders].map((folder) =>
      fsyncDirectory(folder).catch((error: unknown) => {
        failed.set(folder, error instanceof Error ? error : new Error(String(error)));
      }),
    ),
  );
  return failed;
}

async function fsyncDirectory(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch (error) {
    // Some filesystems refuse fsync on a directory; the rename has happened either way.
    if (!["EINVAL", "EISDIR", "EBADF", "EPERM"].includes(errorCodeOf(error) ?? "")) {
      throw writeError("sync the folder of", dir, error);
    }
  } finally {
    await handle?.close();
  }
}

/** Removes a part file, if any. */
export async function discardPart(partPath: string): Promise<void> {
  await unlink(partPath).catch((error: unknown) => {
    if (errorCodeOf(error) !== "ENOENT") throw writeError("remove", partPath, error);
  });
}
