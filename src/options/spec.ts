/** What one row of the option table says, and how to look a row up. */
import { OPTION_TABLE } from "./table.js";

export type OptionKind =
  | "string"
  | "path"
  | "url"
  | "boolean"
  | "count"
  | "seconds"
  /** A plain non-negative number (a factor). */
  | "number"
  | "choice"
  /** Bytes: a string with k/M/G suffixes on the command line; a number or such a string in `sync()`. */
  | "size";

/** What `--help`, README and the man page group options by: what they do, in this order. */
export const OPTION_GROUPS = [
  "Sources and destinations",
  "Verifying",
  "Retries, timeouts and the circuit",
  "State and locks",
  "Speed",
  "Network",
  "Output and logs",
  "Fleet",
  "General",
] as const;

export type OptionGroup = (typeof OPTION_GROUPS)[number];

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
  /** Largest accepted number (`count`), when the option has a meaningful ceiling. */
  max?: number;
  /** `seconds` that must be strictly positive. */
  positive?: boolean;
  choices?: readonly string[];
  help: string;
  group: OptionGroup;
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
