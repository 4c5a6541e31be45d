/**
 * Start-up checks: is this machine fit to run a sync at all? Failures are exit 42. And what the
 * run says of its own settings: `-v`'s run settings, options given that act on nothing.
 */

import { plantedLinkOn } from "../destinations/local/planted-links.js";
import { EnvironmentError } from "../errors.js";
import type { Logger } from "../log/events.js";
import type { ResolvedOptions } from "../options/normalize.js";
import { defaultOf } from "../options/spec.js";
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

/** What `validated environment` says of the state, besides the runtime. */
export interface StateFields {
  lock_dir?: string;
  state?: string;
}

/**
 * Checks the runtime, then the state (`checkState`: the lock dir can be created and written, or
 * the shared store answers); logs `validated environment`. A dry run checks the same without
 * creating anything.
 */
export async function validateEnvironment(
  checkState: (dryRun: boolean) => Promise<StateFields>,
  logger: Logger,
  dryRun = false,
): Promise<void> {
  if (!isAtLeast(process.versions.node, MINIMUM_NODE)) {
    throw new EnvironmentError(
      "runtime",
      `Node.js ${process.versions.node} is too old: resilient-sync needs ${MINIMUM_NODE.join(".")} or newer`,
    );
  }
  const state = await checkState(dryRun);
  logger.emit("info", "validated environment", {
    node: process.versions.node,
    ...state,
    platform: process.platform,
  });
}

/** The local state's check: its lock dir can be created and written (a dry run creates nothing). */
export async function checkLockDir(store: FsStateStore, dryRun: boolean): Promise<StateFields> {
  // As for a destination's folder: not through a link another user could point anywhere.
  const planted = plantedLinkOn(store.dir);
  if (planted)
    throw new EnvironmentError(
      "lock_dir",
      `lock dir ${store.dir} is reached through ${planted.link}, a symbolic link of another user (uid ${planted.owner}), who could point it anywhere: not followed`,
    );
  try {
    await (dryRun ? store.checkWritable() : store.ensureWritable());
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new EnvironmentError("lock_dir", `lock dir ${store.dir} is not writable (${code})`, {
      cause: error,
    });
  }
  return { lock_dir: store.dir };
}

/** `-v`: what the run will do, every default filled in (debug). */
export function logRunSettings(resolved: ResolvedOptions, logger: Logger): void {
  logger.emit("debug", "run settings", {
    sources: resolved.sources.length,
    artifact_root: resolved.artifactRoot,
    ...(resolved.destination === undefined ? {} : { destination: resolved.destination }),
    max_workers: resolved.maxWorkers,
    max_attempts: resolved.maxAttempts,
    backoff_factor: resolved.backoffFactor,
    timeout_ms: resolved.timeoutMs,
    retry_max_time_ms: resolved.retryMaxTimeMs,
    algorithm: resolved.algorithm,
    lock_dir: resolved.lockDir,
    state: resolved.state.kind === "redis" ? "redis" : "local",
    circuit_ttl_ms: resolved.circuitTtlMs,
    circuit_threshold: resolved.circuitThreshold,
    wait_lock_ms: resolved.waitLockMs,
    deadline_ms: resolved.deadlineMs ?? null,
    split: resolved.split,
    limit_rate: resolved.limitRate ?? null,
    max_filesize: resolved.maxFileBytes ?? null,
    pattern: resolved.pattern,
    max_depth: resolved.maxDepth ?? null,
    follow_symlinks: resolved.followSymlinks,
    force: resolved.force,
    dry_run: resolved.dryRun,
  });
}

/** Says which directory options (`--max-depth` …) a run with no directory source was given. */
export function warnUnusedDirectoryOptions(
  resolved: ResolvedOptions,
  directories: number,
  logger: Logger,
): void {
  if (directories > 0) return;
  const unused = [
    resolved.maxDepth === undefined ? "" : "--max-depth",
    resolved.followSymlinks ? "--follow-symlinks" : "",
    resolved.pattern === defaultOf<string>("pattern") ? "" : "--pattern",
  ].filter((flag) => flag !== "");
  if (unused.length > 0)
    logger.emit("warning", "options without effect", {
      options: unused.join(", "),
      reason: "they act on directory sources, and no source is a directory",
    });
}
