/** `LocalDestinations`: the driver that opens local destinations for one run. */
import { realpath } from "node:fs/promises";
import { basename, dirname, join, relative, sep } from "node:path";
import { errorCodeOf, SyncError } from "../../errors.js";
import { lstatOrUndefined } from "../../fs/stat.js";
import { readUmask } from "../../fs/umask.js";
import type { Destination, DestinationDriver } from "../destination.js";
import { LocalDestination, type RunShared } from "./destination.js";
import { FolderSyncs } from "./folder-syncs.js";
import { LinkFreeFolders } from "./linked-folders.js";
import { type PlantedLink, plantedLinkOn } from "./planted-links.js";

/**
 * Local destinations of one run: they share folder fsyncs, and each folder's real path is
 * resolved once per run (a batch of a thousand files in one folder resolves it once).
 */
export class LocalDestinations implements DestinationDriver {
  readonly #shared: RunShared = { syncs: new FolderSyncs(), umask: readUmask() };
  readonly #realFolders = new Map<string, Promise<string>>();

  async open(path: string, within?: string, folderModes?: readonly number[]): Promise<Destination> {
    const folder = dirname(path);
    // A flat batch's files lie right in `within`: no `relative` (two resolves) per pair.
    const below =
      within === undefined ? undefined : folder === within ? "" : relative(within, folder);
    if (below !== undefined && below !== ".." && !below.startsWith(`..${sep}`)) {
      const root = await this.#real(within as string);
      const linkFree = new LinkFreeFolders(
        root,
        below === "" ? [] : below.split(sep),
        within as string,
        folderModes,
      );
      return LocalDestination.at(path, linkFree.folder, this.#shared, linkFree);
    }
    return LocalDestination.at(path, await this.#real(folder), this.#shared);
  }

  #real(folder: string): Promise<string> {
    let real = this.#realFolders.get(folder);
    if (!real) {
      // A link another user planted on the way is refused before anything resolves through it.
      const planted = plantedLinkOn(folder);
      real = (planted ? Promise.reject(plantedLinkError(planted)) : realFolder(folder)).then(
        (resolved) => {
          // A folder that does not exist yet resolved through its nearest ancestor: ask again next time.
          if (!lstatOrUndefined(resolved)?.isDirectory()) this.#realFolders.delete(folder);
          return resolved;
        },
      );
      this.#realFolders.set(folder, real);
    }
    return real;
  }
}

/** The real path of `folder`, or, while it does not exist yet, of its nearest existing ancestor joined with the rest. */
async function realFolder(folder: string): Promise<string> {
  const rest: string[] = [];
  for (let dir = folder; ; dir = dirname(dir)) {
    try {
      return join(await realpath(dir), ...rest.reverse());
    } catch (error) {
      if (dirname(dir) === dir || !["ENOENT", "ENOTDIR"].includes(errorCodeOf(error) ?? ""))
        return folder;
      rest.push(basename(dir));
    }
  }
}

function plantedLinkError({ link, owner }: PlantedLink): SyncError {
  return new SyncError(
    "write_error",
    `${link} is a symbolic link of another user (uid ${owner}), who could point it anywhere: not followed`,
  );
}
