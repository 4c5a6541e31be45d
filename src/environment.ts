/** Start-up checks: is this machine fit to run a sync at all? Failures are exit 42. */
import { EnvironmentError } from "./errors.js";
import type { Logger } from "./log/events.js";
import type { FsStateStore } from "./state/fs-store.js";

export const MINIMUM_NODE_MAJOR = 20;

/** Checks the runtime and that the lock dir can be created and written; logs `validated environment`. */
export async function validateEnvironment(store: FsStateStore, logger: Logger): Promise<void> {
  const major = Number(process.versions.node.split(".")[0]);
  if (major < MINIMUM_NODE_MAJOR) {
    throw new EnvironmentError(
      "runtime",
      `Node.js ${process.versions.node} is too old: resilient-sync needs ${MINIMUM_NODE_MAJOR} or newer`,
    );
  }
  try {
    await store.ensureWritable();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new EnvironmentError("lock_dir", `lock dir ${store.dir} is not writable (${code})`, {
      cause: error,
    });
  }
  logger.emit("debug", "validated environment", {
    node: process.versions.node,
    lock_dir: store.dir,
    platform: process.platform,
  });
}
