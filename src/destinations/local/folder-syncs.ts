/**
 * Folder fsyncs shared between commits. A rename is durable once an fsync of its folder that
 * began after it has finished; commits landing in one folder at about the same time (a batch of
 * small files) can share that fsync instead of each paying for their own. No commit resolves
 * before its rename is durable.
 */
import { constants } from "node:fs";
import { open } from "node:fs/promises";
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

async function fsyncFolder(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    await handle.sync();
  } catch (error) {
    // Some filesystems refuse fsync on a folder; the rename has happened either way.
    if (!["EINVAL", "EISDIR", "EBADF", "EPERM"].includes(errorCodeOf(error) ?? "")) {
      throw writeError("sync the folder of", dir, error);
    }
  } finally {
    await handle?.close();
  }
}
