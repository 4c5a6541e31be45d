/**
 * Links on the way to a destination the user named (`-o /tmp/shared/x/out.bin`, an artifact
 * root). Such a path is followed, as curl, cp and wget follow it — except through a link owned
 * by another user than the runner and root: its owner could point it anywhere the runner may
 * write (`/tmp/shared/x -> /etc`, or a link in a folder of their own inside a shared one). That
 * is stricter than the kernel's `fs.protected_symlinks`, which covers only sticky world-writable
 * folders and the last component. Each link's target is walked the same way, one component at
 * a time, so a trusted link leading into another user's link is refused too.
 */
import { readlinkSync, realpathSync } from "node:fs";
import { isAbsolute, parse, sep } from "node:path";
import { SyncError } from "../../errors.js";
import { lstatOrUndefined } from "../../fs/stat.js";

/** A link refused by the rule above: where it is and whose it is. */
export interface PlantedLink {
  link: string;
  owner: number;
}

/** Links followed before the walk gives up (the kernel's own limit is 40). */
const MAX_LINKS = 40;

/**
 * The first link on the way to `folder` (absolute) owned by another user than the runner and
 * root, walking from the root and through each link's target; `undefined` when there is none,
 * or when the way cannot be looked at, or goes round (the caller's own opening of the folder
 * then says why).
 */
export function plantedLinkOn(folder: string): PlantedLink | undefined {
  const runner = process.getuid?.();
  if (runner === undefined) return undefined;
  const { root } = parse(folder);
  const pending = components(folder.slice(root.length));
  let path = root;
  let links = 0;
  try {
    while (pending.length > 0) {
      const name = pending.shift() as string;
      if (name === ".") continue;
      if (name === "..") {
        path = parentOf(path, root);
        continue;
      }
      const next = path === root ? `${root}${name}` : `${path}${sep}${name}`;
      const info = lstatOrUndefined(next);
      if (!info) return undefined; // the rest is yet to be made: checked again once it is
      if (!info.isSymbolicLink()) {
        path = next;
        continue;
      }
      if (info.uid !== runner && info.uid !== 0) return { link: next, owner: info.uid };
      links += 1;
      if (links > MAX_LINKS) return undefined;
      const target = readlinkSync(next);
      if (isAbsolute(target)) path = root;
      pending.unshift(...components(isAbsolute(target) ? target.slice(root.length) : target));
    }
  } catch {
    return undefined;
  }
  return undefined;
}

function components(path: string): string[] {
  return path.split(sep).filter((name) => name !== "");
}

function parentOf(path: string, root: string): string {
  if (path === root) return root;
  const cut = path.lastIndexOf(sep);
  return cut <= root.length - 1 ? root : path.slice(0, cut);
}

/**
 * Throws `write_error` unless `folder` (a real path when the run opened the destination `path`)
 * is still that very path: a folder then missing may since have been planted as a link, which
 * `mkdirs` and the look at the destination went through. 2 µs: done for every file prepared.
 */
export function stillTheFolderResolved(folder: string, path: string): void {
  let real: string;
  try {
    real = realpathSync.native(folder);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new SyncError("write_error", `cannot look at the folder of ${path}: ${code}`);
  }
  if (real !== folder)
    throw new SyncError(
      "write_error",
      `${path}: a link appeared on the way to ${folder} since the run looked: not followed`,
    );
}
