/**
 * The shapes of a run's options: `SyncOptions` as a caller gives them, `ResolvedOptions` as
 * `normalizeOptions` hands them to every other layer (every default filled, every path absolute).
 */
import type { ChecksumAlgorithm } from "../checksums/digest.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../log/events.js";
import type { SourceLocation } from "../sources/location.js";
import type { StateLocation } from "../state/redis/location.js";
import type { NetworkOptions, NetworkSettings } from "./network.js";

/**
 * Options of `sync()`: the command line's, camelCase, plus what only a library caller can pass;
 * proxies, TLS and netrc as in `NetworkOptions`.
 */
export interface SyncOptions extends NetworkOptions {
  /** Sources (URLs, file URLs, paths); each lands at `artifactRoot/<name>`. */
  sources?: string[];
  /** The single source of single-pair mode (lands at `destination`). */
  sourceUrl?: string;
  destination?: string;
  lockDir?: string;
  /** `redis://[user:pass@]host[:port][/db]`: state shared by many hosts. Default: local (`lockDir`). */
  state?: string;
  /** With a Redis `state`: the prefix of every key. Default `resilient-sync:`. */
  statePrefix?: string;
  maxRetries?: number;
  /** The Python sibling's retries after the first attempt: `maxRetries` is `retries + 1`. */
  retries?: number;
  /** Multiplies every backoff delay. Default 1. */
  backoffFactor?: number;
  /** A Prometheus text file written at the end of each run. */
  metricsFile?: string;
  /** Seconds without an answer from the origin after which a pair stops retrying. */
  retryMaxTime?: number;
  /** Seconds. */
  timeout?: number;
  /** Seconds. */
  circuitTtl?: number;
  artifactRoot?: string;
  maxWorkers?: number;
  /** `HEX`, `ALGO:HEX`, `SOURCE=HEX` or `SOURCE=ALGO:HEX`, as on the command line. */
  checksum?: string[];
  checksumAlgorithm?: ChecksumAlgorithm;
  /** A `sha256sum`-style file (`HEX  name`) whose names match destination file names. */
  checksumFile?: string;
  /** Glob of the files to take from a directory source, relative to it. Default `**\/*`. */
  pattern?: string;
  /** Plan and report; write nothing (no locks, no state). */
  dryRun?: boolean;
  /** A file of sources, one a line; `-` reads standard input. */
  inputFile?: string;
  force?: boolean;
  /** Seconds. */
  waitLock?: number;
  /** Seconds. */
  deadline?: number;
  circuitThreshold?: number;
  /** `Name: value` strings. */
  header?: string[];
  /** Largest file accepted: bytes, or `512k`, `10M`, `2G`. */
  maxFilesize?: string;
  /** `--limit-rate`: the whole run's body bytes per second, or a string as on the command line (`1.5M`). */
  limitRate?: number | string;
  /** Connections a large file may be fetched over at once (1–16); 1: one stream. */
  split?: number;
  /** In directory sources, follow links that leave the source folder too. */
  followSymlinks?: boolean;
  /** In directory sources (local or remote), files at most this many levels down (≥ 1). Default: no limit. */
  maxDepth?: number;
  /** Aborting stops the run: no partial destination, locks released; `sync` rejects with the reason. */
  signal?: AbortSignal;
  /** Receives every log event; silent by default. */
  logger?: Logger;
  /** Time source; tests pass a fake one. */
  clock?: Clock;
  /** `[0, 1)` random source for backoff jitter. */
  random?: () => number;
  /** The project root (`<root>` in defaults). Default: `$REPO_ROOT`, else the package's folder. */
  root?: string;
}

/** A source as given, validated, with the argument it came from (for error messages). */
export interface GivenSource {
  location: SourceLocation;
  argument: string;
}

/** An expected digest from `--checksum`, not yet matched to a planned pair. */
export interface ChecksumClaim {
  /** The source it names; undefined for a bare `HEX` (single-pair mode). */
  source: string | undefined;
  algorithm: ChecksumAlgorithm;
  hex: string;
}

export interface ResolvedOptions {
  sources: GivenSource[];
  /** Single-pair mode: the one source lands exactly here. Otherwise sources land under `artifactRoot`. */
  destination: string | undefined;
  /**
   * A directory source's folder when the user named one (`--destination`); undefined when
   * `destination` is only the bundled sample's default, which a directory must not be poured
   * into: it lands under `artifactRoot/<dirname>` then.
   */
  directoryDestination: string | undefined;
  artifactRoot: string;
  pattern: string;
  checksums: ChecksumClaim[];
  checksumFile: string | undefined;
  lockDir: string;
  /** Where the state lives: the lock dir (local), or a Redis many hosts share. */
  state: StateLocation;
  maxAttempts: number;
  retryMaxTimeMs: number;
  timeoutMs: number;
  circuitTtlMs: number;
  circuitThreshold: number;
  maxWorkers: number;
  algorithm: ChecksumAlgorithm;
  force: boolean;
  dryRun: boolean;
  waitLockMs: number;
  deadlineMs: number | undefined;
  headers: Record<string, string>;
  /** Any file larger than this fails (its part removed); undefined: no limit. */
  maxFileBytes: number | undefined;
  followSymlinks: boolean;
  /** Directory sources yield files at most this many levels down; undefined: no limit. */
  maxDepth: number | undefined;
  network: NetworkSettings;
  /** Body bytes per second the whole run may receive; undefined: no limit. */
  limitRate: number | undefined;
  backoffFactor: number;
  metricsFile: string | undefined;
  /** `--split`: connections a large ranged download may use at once (1: one stream). */
  split: number;
}
