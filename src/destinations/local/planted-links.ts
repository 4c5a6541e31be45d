/**
 * Links on the way to a destination the user named (`-o /tmp/shared/x/out.bin`) that someone
 * else could have planted. Such a path is followed, as curl, cp and wget follow it — except
 * through a link another user made in a folder anyone may write (`/tmp/shared/x -> /etc`),
 * which could carry the write anywhere. That is the kernel's `fs.protected_symlinks` rule, for
 * every world-writable folder (the kernel's covers only sticky ones) and every component, not
 * only the last: the link is refused unless its owner is the runner, root, or the folder's own
 * owner. A group-writable folder is not looked at: its writers are people the owner chose.
 */
import { realpathSync, statSync } from "node:fs";
import { join, parse, sep } from "node:path";
import { lstatOrUndefined } from "../../fs/stat.js";

/** A link refused by the rule above: where it is and whose it is. */
export interface PlantedLink {
  link: string;
  owner: number;
}

/**
 * The first link on the way to `folder` (absolute) that another user may have planted, walking
 * from the root and through each link's target; `undefined` when there is none, or when the way
 * cannot be looked at (the caller's own opening of the folder then says why).
 */
export function plantedLinkOn(folder: string): PlantedLink | undefined {
  const runner = process.getuid?.();
  if (runner === undefined) return undefined;
  const { root } = parse(folder);
  let path = root;
  try {
    for (const name of folder.slice(root.length).split(sep)) {
      if (name === "") continue;
      const parent = path;
      path = join(path, name);
      const info = lstatOrUndefined(path);
      if (!info) return undefined; // the rest is yet to be made
      if (!info.isSymbolicLink()) continue;
      if (info.uid !== runner && info.uid !== 0) {
        const container = statSync(parent);
        if ((container.mode & 0o002) !== 0 && info.uid !== container.uid)
          return { link: path, owner: info.uid };
      }
      path = realpathSync(path);
    }
  } catch {
    return undefined;
  }
  return undefined;
}
