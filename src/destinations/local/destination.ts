/**
 * A destination on the local filesystem. Data is received into a private part file in the
 * destination's own folder (`part.ts`); the commit gives it the destination's mode through its
 * descriptor, fsyncs it (bytes and mode in one fsync), checks the lease, checks that the part's name still leads to that very file, and
 * renames it over the destination, then fsyncs the folder — durable when it returns. Any crash
 * before the rename leaves the old destination.
 *
 * In a folder that other users can write (and that lacks the sticky bit), the moment between the
 * last identity check and the rename is a window in which a racing attacker could swap the part's
 * name; everything else goes through descriptors.
 */

import { renameSync, type Stats, statfsSync } from "node:fs";
import { rename } from "node:fs/promises";
import { basename, join } from "node:path";
import type { ChecksumAlgorithm } from "../../checksums/digest.js";
import { SyncError, writeError } from "../../errors.js";
import { mkdirs } from "../../fs/mkdirs.js";
import { childPath, fileUrlOf } from "../../fs/paths.js";
import { lstatOrUndefined } from "../../fs/stat.js";
import type { PartFile } from "../../state/store.js";
import type {
  Destination,
  Fingerprint,
  LeaseCheck,
  PartSink,
  ResumeCandidate,
} from "../destination.js";
import { fingerprintOf, hashFile, verifiedDigest } from "./content-check.js";
import type { FolderSyncs } from "./folder-syncs.js";
import type { LinkFreeFolders } from "./linked-folders.js";
import { modeFor, ownerToKeep } from "./modes.js";
import { isPartNameFor, partNamesAreExact } from "./names.js";
import { LocalPart } from "./part.js";
import { stillTheFolderResolved } from "./planted-links.js";

/**
 * A rename that replaces a file up to this size is made at once; one replacing a larger file goes
 * to the thread pool, since dropping the old file's last name frees its blocks in that call.
 */
const SYNC_RENAME_MAX_REPLACED_BYTES = 1 << 20;

/** What the destinations of one run share. */
export interface RunShared {
  syncs: FolderSyncs;
  /** Read once: the process's umask does not change during a run, and reading it costs two syscalls. */
  umask: number;
}

export class LocalDestination implements Destination {
  readonly path: string;
  readonly id: string;
  readonly writesAtOffsets = true;
  /** The real folder (links resolved), where parts are made and the rename happens. */
  readonly #folder: string;
  readonly #name: string;
  /** Where the destination is: `#folder` and `#name`. */
  readonly #target: string;

  readonly #shared: RunShared;
  /** Set when the folders between a root and this destination must be real folders, not links. */
  readonly #linkFree: LinkFreeFolders | undefined;

  private constructor(
    path: string,
    folder: string,
    shared: RunShared,
    linkFree: LinkFreeFolders | undefined,
  ) {
    this.#shared = shared;
    this.#linkFree = linkFree;
    this.path = path;
    this.#folder = folder;
    this.#name = basename(path);
    this.#target = childPath(folder, this.#name);
    this.id = fileUrlOf(this.#target);
  }

  /**
   * `path` must be absolute; `folder` is its folder's real path, resolved by the caller, or, with
   * `linkFree`, `linkFree.folder` (only the root resolved: the folders below it are checked).
   */
  static at(
    path: string,
    folder: string,
    shared: RunShared,
    linkFree?: LinkFreeFolders,
  ): LocalDestination {
    return new LocalDestination(path, folder, shared, linkFree);
  }

  /** Whether a folder on the way is a link (or not a folder): then nothing here is read or written. */
  get #throughLink(): boolean {
    return this.#linkFree?.firstNotAFolder() !== undefined;
  }

  async fingerprint(): Promise<Fingerprint | undefined> {
    if (this.#throughLink) return undefined;
    const info = lstatOrUndefined(this.#target);
    if (!info?.isFile()) return undefined;
    return fingerprintOf(info);
  }

  verifyWay(): void {
    this.#checkWay();
  }

  /**
   * The way to the destination is what it was when prepared: no folder below the root is a link
   * (an artifact root's), or the folder is still the path resolved when the run opened it (a
   * named destination's). Made before the lock, the part and the rename, as README "Limits" says.
   */
  #checkWay(): void {
    if (this.#linkFree) this.#linkFree.verify(this.path);
    else stillTheFolderResolved(this.#folder, this.path);
  }

  async prepare(): Promise<void> {
    this.#linkFree?.verify(this.path);
    let info: Stats | undefined;
    try {
      info = lstatOrUndefined(this.#target);
    } catch (error) {
      throw writeError("inspect", this.path, error);
    }
    if (info?.isDirectory()) {
      // Said as a folder in the file's way is said ("… is in the way: it is not a folder"): a
      // mirror whose upstream folder became a file meets this at every run.
      throw new SyncError(
        "write_error",
        `cannot write ${this.path}: a folder is in the way (EISDIR); resilient-sync never replaces a folder with a file: move or remove it`,
      );
    }
    // A device, a FIFO or a socket is never replaced by a regular file (as root, that would
    // replace /dev/null): refused, the way a directory is.
    const special = info && specialKind(info);
    if (special) {
      throw new SyncError(
        "write_error",
        `${this.path} is a ${special}: resilient-sync only replaces regular files, and leaves this one as it is`,
      );
    }
    if (!info) {
      try {
        if (this.#linkFree) await this.#linkFree.create(this.path);
        else await mkdirs(this.#folder);
      } catch (error) {
        if (error instanceof SyncError) throw error;
        throw writeError("create the folder of", this.path, error);
      }
    }
    if (!this.#linkFree) stillTheFolderResolved(this.#folder, this.path);
  }

  async openPart(
    resume: ResumeCandidate | undefined,
    onRefused?: (reason: string) => void,
  ): Promise<PartSink> {
    this.#checkWay();
    if (resume) {
      const kept = await LocalPart.reopen(this.#folder, this.#name, resume);
      if (typeof kept !== "string") return kept;
      onRefused?.(kept);
    }
    return LocalPart.create(this.#folder, this.#name);
  }

  async discardKept(file: PartFile): Promise<void> {
    // Only a name this destination's parts can have: a record is never a way to name another file.
    if (!isPartNameFor(file.name, this.#name)) return;
    const path = join(this.#folder, file.name);
    const info = lstatOrUndefined(path);
    // Only the very file the record names: never a link or a file someone put in its place.
    if (!info?.isFile() || info.ino !== file.ino || info.dev !== file.dev) return;
    if (info.uid !== process.getuid?.()) return;
    const { unlink } = await import("node:fs/promises");
    await unlink(path).catch(() => {});
  }

  async sweepParts(keep: PartFile | undefined): Promise<number> {
    // A long name cut to fit shares its parts' names with other destinations: leave those be.
    if (!partNamesAreExact(this.#name) || this.#throughLink) return 0;
    const { readdir, unlink } = await import("node:fs/promises");
    let removed = 0;
    for (const name of await readdir(this.#folder).catch(() => [])) {
      if (name === keep?.name || !isPartNameFor(name, this.#name)) continue;
      const path = join(this.#folder, name);
      let info: Stats | undefined;
      try {
        info = lstatOrUndefined(path);
      } catch {
        continue;
      }
      if (!info?.isFile() || info.uid !== process.getuid?.()) continue;
      if (
        await unlink(path).then(
          () => true,
          () => false,
        )
      )
        removed += 1;
    }
    return removed;
  }

  async commit(
    part: PartSink,
    lease: LeaseCheck,
    options: { newFileMode?: number; sealed?: () => Promise<void> } = {},
  ): Promise<Fingerprint> {
    if (!(part instanceof LocalPart)) throw new TypeError("not a part of a local destination");
    const target = this.#target;
    try {
      // Everything that can be done before the lease check is: after it come only the name
      // check and the rename, so the window in which a lost lease could go unnoticed is that short.
      const existing = lstatOrUndefined(target);
      const written = await part.seal(
        modeFor(existing, this.#shared.umask, options.newFileMode),
        ownerToKeep(existing),
        this.path,
        options.sealed,
      );
      await part.close();
      await lease.check();
      if (!part.stillAtItsName())
        throw new SyncError("write_error", `the part file of ${this.path} was moved or replaced`);
      this.#checkWay();
      const from = join(part.folder, part.name);
      if ((existing?.size ?? 0) <= SYNC_RENAME_MAX_REPLACED_BYTES) renameSync(from, target);
      else await rename(from, target);
      // From here on the destination is replaced: nothing may fail the commit any more.
      const undurable = await this.#shared.syncs.after(this.#folder).then(
        () => undefined,
        (error: unknown) => (error as Error).message,
      );
      // Taken after the rename, which changes the inode's ctime; the inode is the part's.
      const now = lstatOrUndefined(target);
      const info = now?.ino === written.ino ? now : written;
      return { ...fingerprintOf(info), ...(undurable ? { undurable } : {}) };
    } catch (error) {
      if (error instanceof SyncError || (error as Error).name === "LeaseLostError") throw error;
      throw writeError("rename into", this.path, error);
    }
  }

  async freeBytes(): Promise<number | undefined> {
    try {
      // statfs reads the filesystem's counters in memory: asked at once, not in the thread pool.
      const info = statfsSync(this.#folder);
      return info.bavail * info.bsize;
    } catch {
      return undefined;
    }
  }

  async checksum(algorithm: ChecksumAlgorithm, signal: AbortSignal): Promise<string | null> {
    return this.#throughLink ? null : hashFile(this.#target, algorithm, signal);
  }

  async verifiedDigest(
    algorithm: ChecksumAlgorithm,
    signal: AbortSignal,
    flush = true,
  ): Promise<{ digest: string; at: Fingerprint } | undefined> {
    return this.#throughLink ? undefined : verifiedDigest(this.#target, algorithm, signal, flush);
  }
}

/** What kind of special file `info` is; `undefined` for a regular file, a link or a folder. */
function specialKind(info: Stats): string | undefined {
  if (info.isCharacterDevice()) return "character device";
  if (info.isBlockDevice()) return "block device";
  if (info.isFIFO()) return "FIFO";
  if (info.isSocket()) return "socket";
  return undefined;
}
