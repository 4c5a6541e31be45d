/**
 * Folders below a root that must be real folders, never links: a directory mirror under
 * `--artifact-root` creates `root/a/b/…` itself, so a link someone planted at `root/a` would
 * otherwise carry its writes anywhere (`mirror/src/sub -> /etc`). The root itself may be a link
 * (the user named it); every folder below it is checked when the destination is prepared and
 * again just before the rename, by `lstat`, one component at a time.
 *
 * Node has no `openat`/`renameat`, so the check cannot be tied to a folder handle: between the
 * last check and the rename (microseconds) a racing attacker could still swap a folder. That is
 * the same window as the part's name check, stated in README "Limits".
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { errorCodeOf, SyncError } from "../../errors.js";
import { mkdirs } from "../../fs/mkdirs.js";
import { lstatOrUndefined } from "../../fs/stat.js";

export class LinkFreeFolders {
  /** `root`: a real path (links resolved); `below`: the folder names from it to the destination's folder. */
  constructor(
    readonly root: string,
    readonly below: readonly string[],
    /** The root as the user named it, for messages. */
    readonly given: string,
    /** The modes of the source folders the last folders of `below` mirror (`JobSpec.folderModes`). */
    readonly modes?: readonly number[],
  ) {}

  /** The destination's folder. */
  get folder(): string {
    // A file right in the root (a flat batch): the root itself, without join's normalising.
    return this.below.length === 0 ? this.root : join(this.root, ...this.below);
  }

  /** The first folder below the root that exists and is not a real folder (a link, a file); `undefined` when none. */
  firstNotAFolder(): string | undefined {
    let path = this.root;
    for (const name of this.below) {
      path = join(path, name);
      let info: ReturnType<typeof lstatOrUndefined>;
      try {
        info = lstatOrUndefined(path);
      } catch {
        return path; // cannot be looked at (EACCES …): not known to be a real folder
      }
      if (!info) return undefined;
      if (!info.isDirectory()) return path;
    }
    return undefined;
  }

  /** Throws `write_error` naming the first folder below the root that is a link or not a folder. */
  verify(destination: string): void {
    const wrong = this.firstNotAFolder();
    if (wrong !== undefined) this.#refuse(destination, wrong, isLink(wrong));
  }

  /**
   * Creates the missing folders one by one, each checked before the next is made inside it (a
   * `mkdir` below a planted link would create a folder wherever the link leads).
   */
  async create(destination: string): Promise<void> {
    await mkdirs(this.root);
    let path = this.root;
    // `modes` lines up with the end of `below`: with `--destination DIR` the source folder itself
    // is DIR (made above, as the user's), with `--artifact-root` it is `below[0]`.
    const skipped = this.below.length - (this.modes?.length ?? 0);
    for (const [index, name] of this.below.entries()) {
      path = join(path, name);
      // Usually there already (a mirror's files share their folders): made only when missing.
      // Synchronously, right after the check of its parent: an asynchronous mkdir waits for a
      // thread of the pool, and a loaded machine stretched that wait into a window in which a
      // parent swapped for a link carried the mkdir into the victim folder (seen in the suite).
      if (lstatOrUndefined(path) === undefined) {
        try {
          // Less the umask, as any mkdir; its owner may always write it (the files go in).
          const mode = this.modes?.[index - skipped];
          mkdirSync(path, mode === undefined ? undefined : (mode & 0o777) | 0o700);
        } catch (error) {
          // Made by another run meanwhile: checked next either way.
          if (errorCodeOf(error) !== "EEXIST") throw error;
        }
      }
      if (!lstatOrUndefined(path)?.isDirectory()) this.#refuse(destination, path, isLink(path));
    }
    // A folder made earlier in the loop may have been swapped since: the whole way once more.
    this.verify(destination);
  }

  #refuse(destination: string, path: string, link: boolean | undefined): never {
    // Only a link is about links: a file where a folder should be (a server's file that became
    // a folder) is said plainly.
    const why =
      link === undefined
        ? "cannot be inspected"
        : link
          ? `is a symbolic link; resilient-sync never writes through a linked folder below ${this.given}`
          : "is in the way: it is not a folder";
    throw new SyncError("write_error", `cannot write ${destination}: ${path} ${why}`);
  }
}

/** Whether `path` is a link; `undefined` when it cannot be looked at. */
function isLink(path: string): boolean | undefined {
  try {
    return lstatOrUndefined(path)?.isSymbolicLink() === true;
  } catch {
    return undefined;
  }
}
