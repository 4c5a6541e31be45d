/** Start-up checks: is this machine fit to run a sync at all? Failures are exit 42. */
import { EnvironmentError } from "../errors.js";
import type { Logger } from "../log/events.js";
import type { FsStateStore } from "../state/fs-store.js";

/** undici 7 needs 20.18.1; package.json `engines` says the same. */
export const MINIMUM_NODE = [20, 18, 1] as const;

function isAtLeast(version: string, minimum: readonly number[]): boolean {
  const parts = version.split(".").map(Number);
  for (const [index, want] of minimum.entries()) {
    const have = parts[index] ?? 0;
    if (have !== want) return have > want;
  }
  return true;
}

/**
 * Checks the runtime and that the lock dir can be created and written; logs `validated
 * environment`. A dry run checks the same without creating anything.
 */
export async function validateEnvironment(
  store: FsStateStore,
  logger: Logger,
  dryRun = false,
): Promise<void> {
  if (!isAtLeast(process.versions.node, MINIMUM_NODE)) {
    throw new EnvironmentError(
      "runtime",
      `Node.js ${process.versions.node} is too old: resilient-sync needs ${MINIMUM_NODE.join(".")} or newer`,
    );
  }
  try {
    await (dryRun ? store.checkWritable() : store.ensureWritable());
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new EnvironmentError("lock_dir", `lock dir ${store.dir} is not writable (${code})`, {
      cause: error,
    });
  }
  logger.emit("info", "validated environment", {
    node: process.versions.node,
    lock_dir: store.dir,
    platform: process.platform,
  });
}
