/**
 * The option table — the one source of truth for CLI flags, `--help`, README's option table and
 * the library's option types — and `normalizeOptions`, which validates user input once, at the
 * edge, into the finished `ResolvedOptions` every other layer reads.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { Clock } from "./clock.js";
import { UsageError } from "./errors.js";
import type { Level, Logger } from "./log/events.js";
import { parseSourceLocation, type SourceLocation } from "./sources/location.js";
import {
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  parseChecksumArgument,
} from "./transfer/digest.js";

export type OptionKind = "string" | "path" | "url" | "boolean" | "count" | "seconds" | "choice";

export interface OptionSpec {
  /** Long flag without dashes: `source-url`. */
  flag: string;
  short?: string;
  /** camelCase key in `SyncOptions` / CLI options. */
  key: string;
  kind: OptionKind;
  multiple?: boolean;
  /** Placeholder shown in help: `URL`, `SEC`, … */
  value?: string;
  /** The default as shown to users. */
  defaultText?: string;
  /** Smallest accepted number (`count`, `seconds`). */
  min?: number;
  /** `seconds` that must be strictly positive. */
  positive?: boolean;
  choices?: readonly string[];
  help: string;
  group: "Single pair" | "Many sources" | "Beyond both" | "General";
}

export const OPTION_TABLE: readonly OptionSpec[] = [
  {
    flag: "source-url",
    key: "sourceUrl",
    kind: "url",
    value: "URL",
    defaultText: "file://<root>/sample.csv",
    help: "source: http(s) URL, file URL, or path",
    group: "Single pair",
  },
  {
    flag: "destination",
    key: "destination",
    kind: "path",
    value: "PATH",
    defaultText: "<root>/reports/resilient-sync/sample.csv",
    help: "destination file (its folders are created)",
    group: "Single pair",
  },
  {
    flag: "lock-dir",
    key: "lockDir",
    kind: "path",
    value: "DIR",
    defaultText: "<root>/reports/resilient-sync/.locks",
    help: "state: locks, markers, partial downloads, circuit state",
    group: "Single pair",
  },
  {
    flag: "max-retries",
    key: "maxRetries",
    kind: "count",
    min: 1,
    value: "N",
    defaultText: "5",
    help: "attempts in total per transfer (N ≥ 1)",
    group: "Single pair",
  },
  {
    flag: "timeout",
    key: "timeout",
    kind: "seconds",
    positive: true,
    value: "SEC",
    defaultText: "30",
    help: "connect, response-headers and stall timeout of one attempt (no byte for SEC aborts it); never cuts a transfer that keeps progressing",
    group: "Single pair",
  },
  {
    flag: "circuit-ttl",
    key: "circuitTtl",
    kind: "seconds",
    value: "SEC",
    defaultText: "300",
    help: "how long an opened circuit refuses work",
    group: "Single pair",
  },
  {
    flag: "artifact-root",
    key: "artifactRoot",
    kind: "path",
    value: "DIR",
    defaultText: "<root>/reports/resilient-sync",
    help: "where positional SOURCEs land: DIR/<name>",
    group: "Many sources",
  },
  {
    flag: "pattern",
    key: "pattern",
    kind: "string",
    value: "GLOB",
    defaultText: "**/*",
    help: "files of a directory source to take (glob, relative to it; dotfiles included)",
    group: "Many sources",
  },
  {
    flag: "max-workers",
    key: "maxWorkers",
    kind: "count",
    min: 1,
    value: "N",
    defaultText: "4",
    help: "transfers in flight at once",
    group: "Many sources",
  },
  {
    flag: "checksum",
    key: "checksum",
    kind: "string",
    multiple: true,
    value: "[SOURCE=][ALGO:]HEX",
    help: "expected digest of a source (repeatable); a bare HEX applies to the single source",
    group: "Many sources",
  },
  {
    flag: "checksum-algorithm",
    key: "checksumAlgorithm",
    kind: "choice",
    choices: CHECKSUM_ALGORITHMS,
    value: "ALGO",
    defaultText: "sha256",
    help: "digest computed while streaming: sha256, sha512, sha1, md5",
    group: "Many sources",
  },
  {
    flag: "checksum-file",
    key: "checksumFile",
    kind: "path",
    value: "FILE",
    help: "a sha256sum-style file (HEX  name) whose names match destination file names; the algorithm follows each digest's length",
    group: "Many sources",
  },
  {
    flag: "json",
    key: "json",
    kind: "boolean",
    defaultText: "off",
    help: "write the results document to stdout; logs all go to stderr",
    group: "Many sources",
  },
  {
    flag: "input-file",
    short: "i",
    key: "inputFile",
    kind: "path",
    value: "FILE",
    help: "read sources from FILE, one a line (- = stdin); blank lines and # comments skipped",
    group: "Beyond both",
  },
  {
    flag: "dry-run",
    key: "dryRun",
    kind: "boolean",
    defaultText: "off",
    help: "plan and print what would happen; write nothing (no locks, no state)",
    group: "Beyond both",
  },
  {
    flag: "force",
    key: "force",
    kind: "boolean",
    defaultText: "off",
    help: "ignore markers and validators; fetch and verify anew (still atomic)",
    group: "Beyond both",
  },
  {
    flag: "wait-lock",
    key: "waitLock",
    kind: "seconds",
    value: "SEC",
    defaultText: "0",
    help: "wait up to SEC for a busy lock instead of skipping",
    group: "Beyond both",
  },
  {
    flag: "deadline",
    key: "deadline",
    kind: "seconds",
    positive: true,
    value: "SEC",
    defaultText: "none",
    help: "bound the whole run; unfinished work fails as deadline",
    group: "Beyond both",
  },
  {
    flag: "circuit-threshold",
    key: "circuitThreshold",
    kind: "count",
    min: 1,
    value: "N",
    defaultText: "1",
    help: "consecutive failed transfers to one origin that open its circuit",
    group: "Beyond both",
  },
  {
    flag: "header",
    key: "header",
    kind: "string",
    multiple: true,
    value: '"Name: value"',
    help: "extra request header (repeatable); values are never logged",
    group: "Beyond both",
  },
  {
    flag: "log-level",
    key: "logLevel",
    kind: "choice",
    choices: ["debug", "info", "warning", "error"],
    value: "LEVEL",
    defaultText: "info",
    help: "debug, info, warning, error",
    group: "Beyond both",
  },
  {
    flag: "quiet",
    key: "quiet",
    kind: "boolean",
    defaultText: "off",
    help: "only warnings and errors",
    group: "Beyond both",
  },
  {
    flag: "progress",
    key: "progress",
    kind: "boolean",
    help: "progress bars and a summary on stderr (default: on only when stderr is a TTY and --json is off)",
    group: "Beyond both",
  },
  {
    flag: "no-progress",
    key: "noProgress",
    kind: "boolean",
    help: "no progress bars or summary, even on a TTY",
    group: "Beyond both",
  },
  {
    flag: "help",
    short: "h",
    key: "help",
    kind: "boolean",
    help: "show this help and exit",
    group: "General",
  },
  {
    flag: "version",
    key: "version",
    kind: "boolean",
    help: "print the version and exit",
    group: "General",
  },
];

/** Options of `sync()`: the command line's, camelCase, plus what only a library caller can pass. */
export interface SyncOptions {
  /** Sources (URLs, file URLs, paths); each lands at `artifactRoot/<name>`. */
  sources?: string[];
  /** The single source of single-pair mode (lands at `destination`). */
  sourceUrl?: string;
  destination?: string;
  lockDir?: string;
  maxRetries?: number;
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
  /** Aborting stops the run: no partial destination, locks released; `sync` rejects with the reason. */
  signal?: AbortSignal;
  /** Receives every log event; silent by default. */
  logger?: Logger;
  /** Time source; tests pass a fake one. */
  clock?: Clock;
  /** Multiplies every backoff and Retry-After delay (tests use a small value). Default 1. */
  delayScale?: number;
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
  artifactRoot: string;
  pattern: string;
  checksums: ChecksumClaim[];
  checksumFile: string | undefined;
  lockDir: string;
  maxAttempts: number;
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
  delayScale: number;
}

/** The folder holding resilient-sync's package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i += 1) {
    if (existsSync(join(dir, "package.json"))) return dir;
    dir = dirname(dir);
  }
  throw new Error("resilient-sync: cannot find its package.json");
}

/**
 * `<root>` when neither `root` nor `$REPO_ROOT` is given: the project's own folder when run from
 * its checkout (the Bash script's behaviour), but the working folder when installed as a
 * dependency — nothing is ever written inside node_modules.
 */
export function defaultRoot(): string {
  const root = packageRoot();
  return root.split(sep).includes("node_modules") ? process.cwd() : root;
}

/** The package version, read once per call from package.json. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

const MAX_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

function specOf(key: string): OptionSpec {
  const spec = OPTION_TABLE.find((candidate) => candidate.key === key);
  if (!spec) throw new Error(`no option ${key}`);
  return spec;
}

function flagOf(key: string): string {
  return `--${specOf(key).flag}`;
}

function checkNumber(key: string, value: unknown, fallback: number): number {
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
  if (value < 0 || (spec.positive && value === 0)) {
    throw new UsageError(
      flag,
      `${flag} must be ${spec.positive ? "above" : "at least"} 0, got ${value}`,
    );
  }
  // Node's timers hold at most 2^31 - 1 ms (24.8 days); beyond that they fire at once.
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

/** Parses `Name: value` headers; refuses malformed names and CR/LF injection. */
function parseHeaders(values: string[] | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const raw of values ?? []) {
    const colon = raw.indexOf(":");
    const name = colon > 0 ? raw.slice(0, colon).trim() : "";
    const value = colon > 0 ? raw.slice(colon + 1).trim() : "";
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\r\n\0]/.test(value)) {
      // The value may be a secret: name only the header's name.
      throw new UsageError(
        "--header",
        `--header must be "Name: value", got a malformed header${name ? ` named ${name}` : ""}`,
      );
    }
    headers[name.toLowerCase()] = value;
  }
  return headers;
}

/** What a library caller may pass besides the option table's keys. */
const LIBRARY_KEYS = new Set([
  "sources",
  "signal",
  "logger",
  "clock",
  "delayScale",
  "random",
  "root",
  "runId",
  "onProgress",
  "failpoint",
]);

/**
 * Refuses what TypeScript would have refused, for callers without it: unknown keys (a typo such
 * as `maxWorker` must not be ignored silently), and values of the wrong type.
 */
export function checkOptionShapes(options: object): void {
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const spec = OPTION_TABLE.find((candidate) => candidate.key === key);
    if (!spec) {
      if (!LIBRARY_KEYS.has(key))
        throw new UsageError(key, `unknown option ${key}`, "unknown argument");
      if (key === "sources" && !isStringArray(value))
        throw new UsageError("sources", "sources must be an array of strings");
      if (
        key === "delayScale" &&
        !(typeof value === "number" && Number.isFinite(value) && value >= 0)
      ) {
        throw new UsageError("delayScale", "delayScale must be a number ≥ 0");
      }
      continue;
    }
    const flag = `--${spec.flag}`;
    if (spec.multiple) {
      if (!isStringArray(value))
        throw new UsageError(flag, `${flag} (${spec.key}) must be an array of strings`);
    } else if (spec.kind === "boolean") {
      if (typeof value !== "boolean")
        throw new UsageError(flag, `${flag} (${spec.key}) must be true or false`);
    } else if (spec.kind !== "count" && spec.kind !== "seconds" && typeof value !== "string") {
      throw new UsageError(flag, `${flag} (${spec.key}) must be a string`);
    }
  }
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
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
  const root = resolve(options.root ?? env.REPO_ROOT ?? defaultRoot());
  const reportsDir = join(root, "reports", "resilient-sync");

  const algorithm = options.checksumAlgorithm ?? "sha256";
  if (!CHECKSUM_ALGORITHMS.includes(algorithm)) {
    throw new UsageError(
      "--checksum-algorithm",
      `--checksum-algorithm must be one of ${CHECKSUM_ALGORITHMS.join(", ")}, got ${JSON.stringify(algorithm)}`,
    );
  }

  const positional = options.sources ?? [];
  const singlePair =
    options.sourceUrl !== undefined || options.destination !== undefined || positional.length === 0;
  if (options.sourceUrl !== undefined && positional.length > 0) {
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
    const argument = options.sourceUrl !== undefined ? "--source-url" : "SOURCE";
    const raw = options.sourceUrl ?? positional[0] ?? join(root, "sample.csv");
    sources = [{ location: parseSourceLocation(raw, argument), argument }];
  } else {
    sources = positional.map((raw) => ({
      location: parseSourceLocation(raw, "SOURCE"),
      argument: "SOURCE",
    }));
  }

  const checksums = (options.checksum ?? []).map((value) =>
    parseChecksumArgument(value, algorithm),
  );
  if (!singlePair && checksums.some((claim) => claim.source === undefined)) {
    throw new UsageError("--checksum", "--checksum needs SOURCE=HEX when there are many sources");
  }
  const pattern = options.pattern ?? "**/*";
  if (pattern.trim() === "") throw new UsageError("--pattern", "--pattern is empty");

  return {
    sources,
    destination: singlePair
      ? resolve(options.destination ?? join(reportsDir, "sample.csv"))
      : undefined,
    artifactRoot: resolve(options.artifactRoot ?? reportsDir),
    pattern,
    checksums,
    checksumFile: options.checksumFile === undefined ? undefined : resolve(options.checksumFile),
    lockDir: resolve(options.lockDir ?? join(reportsDir, ".locks")),
    maxAttempts: checkNumber("maxRetries", options.maxRetries, 5),
    timeoutMs: checkNumber("timeout", options.timeout, 30) * 1000,
    circuitTtlMs: checkNumber("circuitTtl", options.circuitTtl, 300) * 1000,
    circuitThreshold: checkNumber("circuitThreshold", options.circuitThreshold, 1),
    maxWorkers: checkNumber("maxWorkers", options.maxWorkers, 4),
    algorithm,
    force: options.force ?? false,
    dryRun: options.dryRun ?? false,
    waitLockMs: checkNumber("waitLock", options.waitLock, 0) * 1000,
    deadlineMs:
      options.deadline === undefined
        ? undefined
        : checkNumber("deadline", options.deadline, 0) * 1000,
    headers: parseHeaders(options.header),
    delayScale: options.delayScale ?? 1,
  };
}

export type { ChecksumAlgorithm, Level };
