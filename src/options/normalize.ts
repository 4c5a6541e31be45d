/**
 * `normalizeOptions`: validates user input once, at the edge, into the finished
 * `ResolvedOptions` every other layer reads. Defaults come from the option table, never from here.
 */
import { statSync } from "node:fs";
import { resolve } from "node:path";
import {
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  parseChecksumArgument,
  requireBlake3,
} from "../checksums/digest.js";
import { UsageError } from "../errors.js";
import type { Level } from "../log/events.js";
import { isRemoteDirectory, namesLocation, parseSourceLocation } from "../sources/location.js";
import { stateLocationOf } from "../state/redis/location.js";
import { parseHeaders } from "./headers.js";
import { resolveNetwork } from "./network.js";
import { placesOf } from "./places.js";
import type { ChecksumClaim, GivenSource, ResolvedOptions, SyncOptions } from "./resolved.js";
import { parseRate, parseSize } from "./size.js";
import { defaultOf, specOf } from "./spec.js";

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
    // `String`: JSON would print NaN and Infinity as `null`.
    const given = typeof value === "number" ? String(value) : JSON.stringify(value);
    throw new UsageError(flag, `${flag} must be a number, got ${given}`);
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
 * destinations is the plan's job (`plan.ts`): it needs the filesystem. `sourcesFrom: "queue"`
 * (a fleet worker): no sources are looked for; `sources` is empty.
 */
export function normalizeOptions(
  options: SyncOptions,
  env: NodeJS.ProcessEnv = process.env,
  sourcesFrom: "options" | "queue" = "options",
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

  // Before the promotion below, which would otherwise replace the SOURCE arguments with the URL.
  if (options.sourceUrl !== undefined && (options.sources?.length ?? 0) > 0)
    throw new UsageError(
      "--source-url",
      "--source-url names the single source; give it or SOURCE arguments, not both",
    );
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
  if (options.destination !== undefined && positional.length > 1) {
    throw new UsageError(
      "--destination",
      "--destination takes one source; use --artifact-root for many",
    );
  }

  let sources: GivenSource[];
  // A fleet worker's pairs come from the queue: it has no sources of its own, not even the
  // bundled sample (which an installed copy does not have).
  if (sourcesFrom === "queue") sources = [];
  else if (singlePair) {
    const argument = sourceUrl !== undefined ? "--source-url" : "SOURCE";
    const raw = sourceUrl ?? positional[0] ?? places.sample;
    if (raw === undefined)
      throw new UsageError(
        "SOURCE",
        "no source given: resilient-sync [options] SOURCE… (or -i FILE); see resilient-sync --help",
      );
    const location = parseSourceLocation(raw, argument);
    sources = [{ location, argument }];
    // `-o out/` names a folder: a source of one file would land in a file named `out` (curl and
    // wget refuse it too). Only then is the filesystem looked at here (a local source may be a
    // folder); a source that cannot be looked at counts as a file, its transfer says why.
    if (namesFolder(options.destination) && isOneFile(location))
      refuseFolderDestination(options.destination);
    if (
      location.kind === "file" &&
      options.destination !== undefined &&
      resolve(options.destination) === resolve(location.href)
    )
      throw new UsageError(
        "--destination",
        `--destination ${options.destination} is the source itself: name another file`,
      );
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
  for (const claim of checksums) refuseDirectoryClaim(claim, sources);
  const pattern = options.pattern ?? defaultOf<string>("pattern");
  if (pattern.trim() === "") throw new UsageError("--pattern", "--pattern is empty");

  return {
    sources,
    destination:
      singlePair && sourcesFrom === "options"
        ? resolve(options.destination ?? places.destination ?? places.artifactRoot)
        : undefined,
    directoryDestination:
      options.destination === undefined ? undefined : resolve(options.destination),
    artifactRoot: resolve(options.artifactRoot ?? places.artifactRoot),
    pattern,
    checksums,
    checksumFile: options.checksumFile === undefined ? undefined : resolve(options.checksumFile),
    lockDir: resolve(options.lockDir ?? places.lockDir),
    state: stateLocationOf(options.state, options.statePrefix, env),
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
    network: resolveNetwork(
      options,
      env,
      sourcesFrom === "queue" || sources.some((given) => given.location.kind === "http"),
    ),
    split: checkNumber("split", options.split),
    maxFileBytes:
      options.maxFilesize === undefined
        ? undefined
        : parseSize(options.maxFilesize, "--max-filesize"),
    limitRate:
      options.limitRate === undefined ? undefined : parseRate(options.limitRate, "--limit-rate"),
    backoffFactor: checkNumber("backoffFactor", options.backoffFactor),
    metricsFile: options.metricsFile === undefined ? undefined : resolve(options.metricsFile),
  };
}

export type { ChecksumClaim, GivenSource, ResolvedOptions, SyncOptions } from "./resolved.js";
export type { ChecksumAlgorithm, Level };

/** Whether `destination`, as given, names a folder: it ends in `/`, `/.` or `/..` (or is `.`, `..`). */
function namesFolder(destination: string | undefined): destination is string {
  return destination !== undefined && /(^|\/)\.{0,2}$/.test(destination) && destination !== "";
}

/** Whether `location` is one file rather than a folder (a remote or local directory). */
function isOneFile(location: GivenSource["location"]): boolean {
  if (location.kind === "http") return !isRemoteDirectory(location);
  try {
    return !statSync(location.href).isDirectory();
  } catch {
    return true;
  }
}

/**
 * A `--checksum` is one file's digest: one naming a directory source (or a bare `HEX` given with
 * one) is refused before the directory is listed, rather than found to match no file after.
 */
function refuseDirectoryClaim(claim: ChecksumClaim, sources: GivenSource[]): void {
  const named =
    claim.source === undefined
      ? sources.length === 1
        ? sources[0]
        : undefined
      : sources.find((given) => namesLocation(given.location, claim.source as string));
  if (named && !isOneFile(named.location))
    throw new UsageError(
      "--checksum",
      `--checksum is one file's digest, but ${named.location.display} is a directory: use --checksum-file for the files in it`,
    );
}

/** Refuses a `--destination` written as a folder (ending in `/`) for a source of one file. */
function refuseFolderDestination(destination: string): never {
  throw new UsageError(
    "--destination",
    `--destination ${destination} names a folder, but the source is one file: name the file in it`,
  );
}
