/**
 * `normalizeOptions`: validates user input once, at the edge, into the finished
 * `ResolvedOptions` every other layer reads. Defaults come from the option table, never from here.
 */
import { resolve } from "node:path";
import {
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  parseChecksumArgument,
  requireBlake3,
} from "../checksums/digest.js";
import type { Clock } from "../clock.js";
import { UsageError } from "../errors.js";
import type { Level, Logger } from "../log/events.js";
import { parseSourceLocation, type SourceLocation } from "../sources/location.js";
import { type StateLocation, stateLocationOf } from "../state/redis/location.js";
import { parseHeaders } from "./headers.js";
import { type NetworkOptions, type NetworkSettings, resolveNetwork } from "./network.js";
import { placesOf } from "./places.js";
import { parseRate, parseSize } from "./size.js";
import { defaultOf, specOf } from "./spec.js";

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
  /** `--split`: connections a large ranged download may use at once (1: one stream). */
  split: number;
}

const MAX_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

function flagOf(key: string): string {
  return `--${specOf(key).flag}`;
}

/** A number option checked against its row (kind, min, positive), or its default when not given. */
function checkNumber(
  key: string,
  value: unknown,
  fallback: number = defaultOf<number>(key),
): number {
  if (value === undefined) return fallback;
  const spec = specOf(key);
  const flag = flagOf(key);
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new UsageError(flag, `${flag} must be a number, got ${JSON.stringify(value)}`);
  }
  if (spec.kind === "count" && !Number.isSafeInteger(value)) {
    throw new UsageError(flag, `${flag} must be a whole number, got ${value}`);
  }
  if (spec.min !== undefined && value < spec.min) {
    throw new UsageError(flag, `${flag} must be at least ${spec.min}, got ${value}`);
  }
  if (spec.max !== undefined && value > spec.max) {
    throw new UsageError(flag, `${flag} must be at most ${spec.max}, got ${value}`);
  }
  if (value < 0 || (spec.positive && value === 0)) {
    throw new UsageError(
      flag,
      `${flag} must be ${spec.positive ? "above" : "at least"} 0, got ${value}`,
    );
  }
  // Node's timers hold at most 2^31 - 1 ms (24.8 days); beyond that they fire at once.
  // Timers and the HTTP layer take whole milliseconds: finer is refused here, not mid-run.
  if (spec.kind === "seconds" && Math.abs(value * 1000 - Math.round(value * 1000)) > 1e-6) {
    throw new UsageError(flag, `${flag} takes at most three decimals (milliseconds), got ${value}`);
  }
  if (spec.kind === "seconds" && value > MAX_SECONDS) {
    throw new UsageError(
      flag,
      `${flag} must be at most ${MAX_SECONDS} seconds (24.8 days), got ${value}`,
    );
  }
  if (spec.kind === "count" && value > 1_000_000) {
    throw new UsageError(flag, `${flag} must be at most 1000000, got ${value}`);
  }
  return value;
}

/** Seconds (checked to hold whole milliseconds) as integer milliseconds. */
/** `--max-retries N` (attempts in total), or the Python sibling's `--retries N` (N + 1 attempts). */
function attemptsOf(options: SyncOptions): number {
  if (options.retries === undefined) return checkNumber("maxRetries", options.maxRetries);
  if (options.maxRetries !== undefined)
    throw new UsageError(
      "--retries",
      "--retries N is --max-retries N+1: give one of them, not both",
    );
  return checkNumber("retries", options.retries, 0) + 1;
}

function toMs(seconds: number): number {
  return Math.round(seconds * 1000);
}

/**
 * Validates and completes `SyncOptions`: every default filled, every path absolute, every source
 * and checksum parsed. Throws `UsageError` naming the argument. Expanding directories and naming
 * destinations is the plan's job (`plan.ts`): it needs the filesystem.
 */
export function normalizeOptions(
  options: SyncOptions,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedOptions {
  const places = placesOf(options.root, env);

  const algorithm = options.checksumAlgorithm ?? defaultOf<ChecksumAlgorithm>("checksumAlgorithm");
  if (!CHECKSUM_ALGORITHMS.includes(algorithm)) {
    throw new UsageError(
      "--checksum-algorithm",
      `--checksum-algorithm must be one of ${CHECKSUM_ALGORITHMS.join(", ")}, got ${JSON.stringify(algorithm)}`,
    );
  }
  if (algorithm === "blake3") requireBlake3("--checksum-algorithm");

  // Installed, `--source-url URL` with no `--destination` lands like `resilient-sync URL` (in
  // the working folder); a checkout keeps the Bash script's `reports/…/sample.csv`.
  const promoted =
    places.destination === undefined &&
    options.sourceUrl !== undefined &&
    options.destination === undefined;
  const positional = promoted ? [options.sourceUrl as string] : (options.sources ?? []);
  const sourceUrl = promoted ? undefined : options.sourceUrl;
  const singlePair =
    sourceUrl !== undefined || options.destination !== undefined || positional.length === 0;
  if (sourceUrl !== undefined && positional.length > 0) {
    throw new UsageError(
      "--source-url",
      "--source-url names the single source; give it or SOURCE arguments, not both",
    );
  }
  if (options.destination !== undefined && positional.length > 1) {
    throw new UsageError(
      "--destination",
      "--destination takes one source; use --artifact-root for many",
    );
  }

  let sources: GivenSource[];
  if (singlePair) {
    const argument = sourceUrl !== undefined ? "--source-url" : "SOURCE";
    const raw = sourceUrl ?? positional[0] ?? places.sample;
    if (raw === undefined)
      throw new UsageError(
        "SOURCE",
        "no source given: resilient-sync [options] SOURCE… (or -i FILE); see resilient-sync --help",
      );
    sources = [{ location: parseSourceLocation(raw, argument), argument }];
  } else {
    sources = positional.map((raw) => ({
      location: parseSourceLocation(raw, "SOURCE"),
      argument: "SOURCE",
    }));
  }

  // One source, however it was given: a bare `--checksum HEX` is that source's.
  const only = positional.length === 1 ? positional[0] : undefined;
  const checksums = (options.checksum ?? [])
    .map((value) => parseChecksumArgument(value, algorithm))
    .map((claim) =>
      claim.source === undefined && !singlePair && only !== undefined
        ? { ...claim, source: only }
        : claim,
    );
  if (!singlePair && checksums.some((claim) => claim.source === undefined)) {
    throw new UsageError("--checksum", "--checksum needs SOURCE=HEX when there are many sources");
  }
  const pattern = options.pattern ?? defaultOf<string>("pattern");
  if (pattern.trim() === "") throw new UsageError("--pattern", "--pattern is empty");

  return {
    sources,
    destination: singlePair
      ? resolve(options.destination ?? places.destination ?? places.artifactRoot)
      : undefined,
    directoryDestination:
      options.destination === undefined ? undefined : resolve(options.destination),
    artifactRoot: resolve(options.artifactRoot ?? places.artifactRoot),
    pattern,
    checksums,
    checksumFile: options.checksumFile === undefined ? undefined : resolve(options.checksumFile),
    lockDir: resolve(options.lockDir ?? places.lockDir),
    state: stateLocationOf(options.state, options.statePrefix),
    maxAttempts: attemptsOf(options),
    retryMaxTimeMs: toMs(checkNumber("retryMaxTime", options.retryMaxTime)),
    timeoutMs: toMs(checkNumber("timeout", options.timeout)),
    circuitTtlMs: toMs(checkNumber("circuitTtl", options.circuitTtl)),
    circuitThreshold: checkNumber("circuitThreshold", options.circuitThreshold),
    maxWorkers: checkNumber("maxWorkers", options.maxWorkers),
    algorithm,
    force: options.force ?? defaultOf<boolean>("force"),
    dryRun: options.dryRun ?? defaultOf<boolean>("dryRun"),
    waitLockMs: toMs(checkNumber("waitLock", options.waitLock)),
    deadlineMs:
      options.deadline === undefined
        ? undefined
        : toMs(checkNumber("deadline", options.deadline, 0)),
    headers: parseHeaders(options.header),
    followSymlinks: options.followSymlinks ?? defaultOf<boolean>("followSymlinks"),
    maxDepth:
      options.maxDepth === undefined ? undefined : checkNumber("maxDepth", options.maxDepth, 1),
    network: resolveNetwork(options, env),
    split: checkNumber("split", options.split),
    maxFileBytes:
      options.maxFilesize === undefined
        ? undefined
        : parseSize(options.maxFilesize, "--max-filesize"),
    limitRate:
      options.limitRate === undefined ? undefined : parseRate(options.limitRate, "--limit-rate"),
    backoffFactor: checkNumber("backoffFactor", options.backoffFactor),
  };
}

export type { ChecksumAlgorithm, Level };
