/**
 * The option table: the one source of truth for CLI flags, `--help`, README's option table, the
 * library's option checks and every default (typed, written once, in its row).
 */
import { CHECKSUM_ALGORITHMS } from "../checksums/digest.js";

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
  /** The default, typed: the one place it is written. Shown in help unless `defaultText` says it better. */
  default?: number | string | boolean;
  /** The default as shown to users, when it is not a plain value (`<root>/sample.csv`, `none`). */
  defaultText?: string;
  /** Smallest accepted number (`count`, `seconds`). */
  min?: number;
  /** `seconds` that must be strictly positive. */
  positive?: boolean;
  choices?: readonly string[];
  help: string;
  group: "Single pair" | "Many sources" | "Beyond both" | "General";
  /** The module that owns the option's meaning (and validates what the generic checks cannot). */
  owner: string;
}

/** The row of option `key` (camelCase). */
export function specOf(key: string): OptionSpec {
  const spec = OPTION_TABLE.find((candidate) => candidate.key === key);
  if (!spec) throw new Error(`no option ${key}`);
  return spec;
}

/** The typed default of option `key`, from its row. */
export function defaultOf<T extends number | string | boolean>(key: string): T {
  const value = specOf(key).default;
  if (value === undefined) throw new Error(`option ${key} has no default`);
  return value as T;
}

export const OPTION_TABLE: readonly OptionSpec[] = [
  {
    flag: "source-url",
    owner: "run/plan",
    key: "sourceUrl",
    kind: "url",
    value: "URL",
    defaultText: "file://<root>/sample.csv",
    help: "source: http(s) URL, file URL, or path",
    group: "Single pair",
  },
  {
    flag: "destination",
    owner: "run/plan",
    key: "destination",
    kind: "path",
    value: "PATH",
    defaultText: "<root>/reports/resilient-sync/sample.csv",
    help: "destination file (its folders are created)",
    group: "Single pair",
  },
  {
    flag: "lock-dir",
    owner: "state/fs-store",
    key: "lockDir",
    kind: "path",
    value: "DIR",
    defaultText: "<root>/reports/resilient-sync/.locks",
    help: "state: locks, markers, partial downloads, circuit state",
    group: "Single pair",
  },
  {
    flag: "max-retries",
    owner: "core/transfer",
    key: "maxRetries",
    kind: "count",
    min: 1,
    value: "N",
    default: 5,
    help: "attempts in total per transfer (N ≥ 1)",
    group: "Single pair",
  },
  {
    flag: "timeout",
    owner: "sources/http",
    key: "timeout",
    kind: "seconds",
    positive: true,
    value: "SEC",
    default: 30,
    help: "connect, response-headers and stall timeout of one attempt (no byte for SEC aborts it); never cuts a transfer that keeps progressing",
    group: "Single pair",
  },
  {
    flag: "circuit-ttl",
    owner: "health/circuits",
    key: "circuitTtl",
    kind: "seconds",
    value: "SEC",
    default: 300,
    help: "how long an opened circuit refuses work",
    group: "Single pair",
  },
  {
    flag: "artifact-root",
    owner: "run/plan",
    key: "artifactRoot",
    kind: "path",
    value: "DIR",
    defaultText: "<root>/reports/resilient-sync",
    help: "where positional SOURCEs land: DIR/<name>",
    group: "Many sources",
  },
  {
    flag: "pattern",
    owner: "run/plan",
    key: "pattern",
    kind: "string",
    value: "GLOB",
    default: "**/*",
    help: "files of a directory source to take (glob, relative to it; dotfiles included)",
    group: "Many sources",
  },
  {
    flag: "max-workers",
    owner: "run/scheduler",
    key: "maxWorkers",
    kind: "count",
    min: 1,
    value: "N",
    default: 4,
    help: "transfers in flight at once",
    group: "Many sources",
  },
  {
    flag: "checksum",
    owner: "run/plan",
    key: "checksum",
    kind: "string",
    multiple: true,
    value: "[SOURCE=][ALGO:]HEX",
    help: "expected digest of a source (repeatable); a bare HEX applies to the single source",
    group: "Many sources",
  },
  {
    flag: "checksum-algorithm",
    owner: "checksums/digest",
    key: "checksumAlgorithm",
    kind: "choice",
    choices: CHECKSUM_ALGORITHMS,
    value: "ALGO",
    default: "sha256",
    help: "digest computed while streaming: sha256, sha512, sha1, md5",
    group: "Many sources",
  },
  {
    flag: "checksum-file",
    owner: "run/plan",
    key: "checksumFile",
    kind: "path",
    value: "FILE",
    help: "a sha256sum-style file (HEX  name) whose names match destination file names; the algorithm follows each digest's length",
    group: "Many sources",
  },
  {
    flag: "json",
    owner: "cli/main",
    key: "json",
    kind: "boolean",
    default: false,
    help: "write the results document to stdout; logs all go to stderr",
    group: "Many sources",
  },
  {
    flag: "input-file",
    owner: "run/source-list",
    short: "i",
    key: "inputFile",
    kind: "path",
    value: "FILE",
    help: "read sources from FILE, one a line (- = stdin); blank lines and # comments skipped",
    group: "Beyond both",
  },
  {
    flag: "dry-run",
    owner: "run/dry-run",
    key: "dryRun",
    kind: "boolean",
    default: false,
    help: "plan and print what would happen; write nothing (no locks, no state)",
    group: "Beyond both",
  },
  {
    flag: "force",
    owner: "core/transfer",
    key: "force",
    kind: "boolean",
    default: false,
    help: "ignore markers and validators; fetch and verify anew (still atomic)",
    group: "Beyond both",
  },
  {
    flag: "wait-lock",
    owner: "core/job",
    key: "waitLock",
    kind: "seconds",
    value: "SEC",
    default: 0,
    help: "wait up to SEC for a busy lock instead of skipping",
    group: "Beyond both",
  },
  {
    flag: "deadline",
    owner: "run/sync",
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
    owner: "health/circuits",
    key: "circuitThreshold",
    kind: "count",
    min: 1,
    value: "N",
    default: 1,
    help: "consecutive failed transfers to one origin that open its circuit",
    group: "Beyond both",
  },
  {
    flag: "header",
    owner: "sources/http",
    key: "header",
    kind: "string",
    multiple: true,
    value: '"Name: value"',
    help: "extra request header (repeatable); values are never logged",
    group: "Beyond both",
  },
  {
    flag: "log-level",
    owner: "log/json",
    key: "logLevel",
    kind: "choice",
    choices: ["debug", "info", "warning", "error"],
    value: "LEVEL",
    default: "info",
    help: "debug, info, warning, error",
    group: "Beyond both",
  },
  {
    flag: "quiet",
    owner: "log/json",
    key: "quiet",
    kind: "boolean",
    default: false,
    help: "only warnings and errors",
    group: "Beyond both",
  },
  {
    flag: "progress",
    owner: "cli/render",
    key: "progress",
    kind: "boolean",
    help: "progress bars and a summary on stderr (default: on only when stderr is a TTY and --json is off)",
    group: "Beyond both",
  },
  {
    flag: "no-progress",
    owner: "cli/render",
    key: "noProgress",
    kind: "boolean",
    help: "no progress bars or summary, even on a TTY",
    group: "Beyond both",
  },
  {
    flag: "help",
    owner: "cli/help",
    short: "h",
    key: "help",
    kind: "boolean",
    help: "show this help and exit",
    group: "General",
  },
  {
    flag: "version",
    owner: "cli/main",
    key: "version",
    kind: "boolean",
    help: "print the version and exit",
    group: "General",
  },
];
