/** Where a lease's lock file lives: beside a local destination, else in the lock dir. */
import { basename, dirname } from "node:path";
import { childPath, pathOfFileUrl } from "../fs/paths.js";
import { hashOf, statOrUndefined } from "../fs/stat.js";

/**
 * The lock file of `key`. A local file's (a `file:///` key) is beside it, named after its
 * folder's device and inode and its own name, so every spelling of it — a symlinked folder, a
 * bind mount — finds the same lock; `identify` tells the folder's (default: asks the file system
 * now). Any other key's is in `lockDir`, named after the key.
 */
export function lockPathOf(lockDir: string, key: string, identify = statOrUndefined): string {
  if (key.startsWith("file:///")) {
    const path = pathOfFileUrl(key);
    const folder = dirname(path);
    const id = identify(folder);
    const identity = id ? `${id.dev}:${id.ino}/${basename(path)}` : key;
    return childPath(folder, `.resilient-sync-${hashOf(identity)}.lock`);
  }
  return childPath(lockDir, `${hashOf(key)}.lock`);
}
