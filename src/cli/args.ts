/**
 * argv → CLI options, driven by the option table: unknown options, missing values, non-numeric
 * or out-of-range numbers are `UsageError`s naming the argument. Deeper checks (URLs, checksums,
 * collisions) happen in `normalizeOptions`, shared with the library.
 */
import { parseArgs } from "node:util";
import { UsageError } from "../errors.js";
import type { Level } from "../log/events.js";
import type { SyncOptions } from "../options/normalize.js";
import type { OptionSpec } from "../options/spec.js";
import { OPTION_TABLE } from "../options/table.js";

export interface CliOptions extends SyncOptions {
  json?: boolean;
  logLevel?: Level;
  quiet?: boolean;
  help?: boolean;
  version?: boolean;
  progress?: boolean;
  noProgress?: boolean;
  /** The fleet's commands only (cli/fleet.ts); a run on this machine refuses them. */
  queue?: string;
  wait?: boolean;
  concurrency?: number;
  stalledAfter?: number;
  /** `-o FILE`: the destination (`--destination`); `-o -`: stdout (`toStdout`). */
  output?: string;
  toStdout?: boolean;
  verbose?: boolean;
  scriptName?: string;
  jsonFormat?: "full" | "legacy";
  metricsFile?: string;
}

type ParseConfig = NonNullable<Parameters<typeof parseArgs>[0]>["options"];

function parseConfig(): ParseConfig {
  const config: NonNullable<ParseConfig> = {};
  for (const spec of OPTION_TABLE) {
    config[spec.flag] = {
      type: spec.kind === "boolean" ? "boolean" : "string",
      ...(spec.multiple ? { multiple: true } : {}),
      ...(spec.short ? { short: spec.short } : {}),
    };
  }
  return config;
}

function coerce(spec: OptionSpec, raw: string, rawName: string): unknown {
  const numeric = spec.kind === "count" || spec.kind === "number" || spec.kind === "seconds";
  if (numeric && /^-(\d+(\.\d*)?|\.\d+)$/.test(raw))
    throw new UsageError(rawName, `${rawName} cannot be negative, got ${raw}`);
  switch (spec.kind) {
    case "count":
      if (!/^\d+$/.test(raw))
        throw new UsageError(
          rawName,
          `${rawName} must be a whole number, got ${JSON.stringify(raw)}`,
        );
      return Number(raw);
    case "number":
      if (!/^(\d+(\.\d*)?|\.\d+)$/.test(raw))
        throw new UsageError(rawName, `${rawName} must be a number, got ${JSON.stringify(raw)}`);
      return Number(raw);
    case "seconds":
      if (!/^(\d+(\.\d*)?|\.\d+)$/.test(raw)) {
        throw new UsageError(
          rawName,
          `${rawName} must be a number of seconds, got ${JSON.stringify(raw)}`,
        );
      }
      return Number(raw);
    case "choice":
      if (!spec.choices?.includes(raw)) {
        throw new UsageError(
          rawName,
          `${rawName} must be one of ${spec.choices?.join(", ")}, got ${JSON.stringify(raw)}`,
        );
      }
      return raw;
    default:
      if (raw === "" && spec.kind !== "string")
        throw new UsageError(rawName, `${rawName} needs a non-empty value`);
      return raw;
  }
}

/** Parses the command line. Throws `UsageError`. */
export function parseCommandLine(argv: readonly string[]): CliOptions {
  const { tokens } = parseArgs({
    args: [...argv],
    options: parseConfig(),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const options: Record<string, unknown> = {};
  const sources: string[] = [];
  for (const token of tokens) {
    if (token.kind === "positional") {
      sources.push(token.value);
      continue;
    }
    if (token.kind !== "option") continue;
    const spec = OPTION_TABLE.find(
      (candidate) => candidate.flag === token.name || candidate.short === token.name,
    );
    if (!spec) {
      // In a group of short options (`-xz`, `-10`) name the group as written, not one letter of it.
      const written = argv[token.index] ?? token.rawName;
      const name = written.startsWith("--") ? token.rawName : written;
      const near = name.startsWith("--")
        ? closestFlag(name.slice(2).split("=")[0] ?? "")
        : undefined;
      const hint = near ? ` (did you mean --${near}?)` : "";
      throw new UsageError(
        name,
        `unknown option ${name}${hint}; see resilient-sync --help`,
        "unknown argument",
      );
    }
    if (spec.kind === "boolean") {
      if (token.value !== undefined)
        throw new UsageError(token.rawName, `${token.rawName} takes no value`);
      options[spec.key] = true;
      continue;
    }
    // A separate value that looks like an option means the value was forgotten (`--destination -h`).
    // `-` alone (stdin) and negative numbers (refused later, with a clearer message) pass; a path
    // that really starts with `-` can be given inline: `--destination=-h`.
    const looksLikeOption =
      !token.inlineValue &&
      token.value !== undefined &&
      token.value !== "-" &&
      token.value.startsWith("-") &&
      !/^-\d/.test(token.value) &&
      !(
        spec.kind === "count" ||
        spec.kind === "seconds" ||
        spec.kind === "number" ||
        spec.kind === "size"
      );
    if (token.value === undefined || looksLikeOption) {
      throw new UsageError(
        token.rawName,
        `${token.rawName} needs a value (${spec.value ?? "VALUE"})`,
      );
    }
    const value = coerce(spec, token.value, token.rawName);
    if (spec.multiple)
      options[spec.key] = [...((options[spec.key] as unknown[] | undefined) ?? []), value];
    else options[spec.key] = value;
  }
  if (sources.length > 0) options.sources = sources;
  return settle(options as CliOptions);
}

/** The long flag nearest to `written` (a typo, a missing letter), if one is near enough. */
export function closestFlag(written: string): string | undefined {
  // The start of exactly one flag (`--checksum-algo`): that one.
  const starting = OPTION_TABLE.filter(({ flag }) => flag.startsWith(written));
  if (written.length >= 3 && starting.length === 1) return starting[0]?.flag;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const { flag } of OPTION_TABLE) {
    const distance = editDistance(written, flag);
    if (distance < bestDistance) {
      best = flag;
      bestDistance = distance;
    }
  }
  // A third of the flag's letters may differ: `--destinaton`, `--max-worker`, not `--foo`.
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(best.length / 3))
    ? best
    : undefined;
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** Folds the aliases into the options they stand for; refuses the contradictions among them. */
function settle(options: CliOptions): CliOptions {
  if ((options.logLevel as string) === "warn") options.logLevel = "warning";
  if (options.verbose) {
    if (options.quiet)
      throw new UsageError("--verbose", "-v/--verbose and -q/--quiet contradict each other");
    if (options.logLevel !== undefined && options.logLevel !== "debug")
      throw new UsageError("--verbose", "-v/--verbose is --log-level debug: give one of them");
    options.logLevel = "debug";
  }
  if (options.jsonFormat !== undefined && !options.json)
    throw new UsageError(
      "--json-format",
      "--json-format shapes the --json document: give --json too",
    );
  // `--destination -` is `-o -`, as curl's `--output -` and wget's `-O -` are: a file named `-`
  // is never what is meant (`--destination ./-` still names one).
  if (
    options.destination === "-" &&
    options.output === undefined &&
    (options.sources?.length ?? 0) <= 1
  ) {
    options.output = "-";
    delete options.destination;
  }
  if (options.output !== undefined) {
    if (options.destination !== undefined)
      throw new UsageError("--output", "-o/--output and --destination both name the destination");
    if ((options.sources?.length ?? 0) > 1)
      throw new UsageError(
        "--output",
        "-o/--output names the destination of one SOURCE; for many, use --artifact-root DIR",
      );
    // `-o URL` is a forgotten file name, not a file called `http:`.
    if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(options.output))
      throw new UsageError(
        "--output",
        `-o/--output takes a file name, got the URL ${options.output.split(/[?#]/)[0]}: give -o FILE URL`,
      );
    if (options.output === "-" && options.progress)
      throw new UsageError(
        "--progress",
        "--progress has nothing to draw with -o - (a stream to stdout)",
      );
    if (options.output === "-") options.toStdout = true;
    else options.destination = options.output;
    delete options.output;
  }
  return options;
}
