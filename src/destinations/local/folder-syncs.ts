/**
 * Folder fsyncs shared between commits. A rename is durable once an fsync of its folder that
 * began after it has finished; commits landing in one folder at about the same time (a batch of
 * small files) can share that fsync instead of each paying for their own. No commit resolves
 * before its rename is durable.
 */
import { closeSync, constants, fsync, openSync } from "node:fs";
import { errorCodeOf, writeError } from "../../errors.js";

interface FolderState {
  /** The fsync in flight, if any (it may have begun before the caller's rename). */
  running: Promise<void> | undefined;
  /** The fsync that will begin once `running` ends: every rename made meanwhile shares it. */
  queued: Promise<void> | undefined;
}

export class FolderSyncs {
  readonly #folders = new Map<string, FolderState>();

  /** Resolves once an fsync of `folder` that began after this call has finished. */
  after(folder: string): Promise<void> {
    let state = this.#folders.get(folder);
    if (!state) {
      state = { running: undefined, queued: undefined };
      this.#folders.set(folder, state);
    }
    const { running } = state;
    if (!running) return this.#start(folder, state);
    let queued = state.queued;
    if (!queued) {
      const current = state;
      const next = () => this.#start(folder, current);
      queued = running.then(next, next);
      current.queued = queued;
    }
    return queued;
  }

  #start(folder: string, state: FolderState): Promise<void> {
    state.queued = undefined;
    const running = fsyncFolder(folder).finally(() => {
      if (state.running === running) state.running = undefined;
      if (!state.running && !state.queued) this.#folders.delete(folder);
    });
    state.running = running;
    return running;
  }
}

/**
 * Opens the folder and fsyncs it. Only the fsync waits for the disk and goes to the thread pool;
 * opening and closing a folder are cheap calls, made at once.
 */
async function fsyncFolder(dir: string): Promise<void> {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    const opened = fd;
    await new Promise<void>((resolve, reject) =>
      fsync(opened, (error) => (error ? reject(error) : resolve())),
    );
  } catch (error) {
    // Some filesystems refuse fsync on a folder; the rename has happened either way.
    if (!["EINVAL", "EISDIR", "EBADF", "EPERM"].includes(errorCodeOf(error) ?? "")) {
      throw writeError("sync the folder of", dir, error);
    }
  } finally {
    try {
      if (fd !== undefined) closeSync(fd);
    } catch {
      // a folder's descriptor: nothing was written through it
    }
  }
}
