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
  switch (spec.kind) {
    case "count":
      if (!/^\d+$/.test(raw))
        throw new UsageError(
          rawName,
          `${rawName} must be a whole number, got ${JSON.stringify(raw)}`,
        );
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
      throw new UsageError(name, `unknown option ${name}`, "unknown argument");
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
      !(spec.kind === "count" || spec.kind === "seconds" || spec.kind === "size");
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
  return options as CliOptions;
}
