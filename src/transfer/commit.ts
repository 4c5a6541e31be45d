/**
 * The atomic commit: data lives in a part file in the destination's own folder until it is
 * complete, fsynced and verified; then one rename puts it in place, and an fsync of the folder
 * makes the rename itself durable. Any crash before the rename leaves the old destination.
 */
import { open, rename, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { errorCodeOf, writeError } from "../errors.js";
import { mkdirs } from "../mkdirs.js";

export const PART_SUFFIX = ".resilient-sync.part";

/** Where the data of `destination` is received: beside it, so the final rename never crosses filesystems. */
export function partPathFor(destination: string): string {
  return `${destination}${PART_SUFFIX}`;
}

/** Creates the destination's folder and refuses a destination that is a directory. */
export async function prepareDestination(destination: string): Promise<void> {
  try {
    await mkdirs(dirname(destination));
  } catch (error) {
    throw writeError("create the folder of", destination, error);
  }
  const info = await stat(destination).catch(() => undefined);
  if (info?.isDirectory()) {
    throw writeError(
      "write",
      destination,
      Object.assign(new Error("is a directory"), { code: "EISDIR" }),
    );
  }
}

/** Renames the finished part file over the destination and makes the rename durable. */
export async function commitPart(partPath: string, destination: string): Promise<void> {
  try {
    await rename(partPath, destination);
  } catch (error) {
    throw writeError("rename into", destination, error);
  }
  await fsyncDirectory(dirname(destination));
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
