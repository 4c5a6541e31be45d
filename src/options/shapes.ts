/** What TypeScript would have refused, checked for library callers without it. */
import { UsageError } from "../errors.js";
import { OPTION_TABLE } from "./table.js";

/** What a library caller may pass besides the option table's keys. */
const LIBRARY_KEYS = new Set([
  "sources",
  "signal",
  "logger",
  "clock",
  "random",
  "root",
  "runId",
  "onProgress",
  "onResult",
  "retainResults",
]);

/**
 * The command line's options that shape its own output, which a library caller shapes with
 * `logger`, `onProgress` and the resolved report instead: each refused with what to use, never
 * accepted and ignored (`output` once left the file at its default place, exit 0).
 */
const COMMAND_LINE_ONLY: Record<string, string> = {
  output: "pass destination (a file path)",
  json: "sync resolves to the results document",
  jsonFormat: "sync resolves to the results document",
  logLevel: "pass a logger, which may filter by level",
  verbose: "pass a logger, which may filter by level",
  quiet: "pass a logger, which may filter by level",
  scriptName: "pass a logger, which writes what it likes",
  progress: "pass onProgress",
  noProgress: "pass onProgress",
  help: "see docs/library.md",
  version: "read the version field of the package (resilient-sync/package.json)",
};

/** Whether `value` is an object with a method of each of these names. */
const hasMethods = (value: unknown, ...names: string[]) =>
  typeof value === "object" &&
  value !== null &&
  names.every((name) => typeof (value as Record<string, unknown>)[name] === "function");

/** Each library key's check: what it must be, or `undefined` when it is that. */
const LIBRARY_CHECKS: Record<string, (value: unknown) => string | undefined> = {
  sources: (value) => (isStringArray(value) ? undefined : "an array of strings"),
  signal: (value) => (value instanceof AbortSignal ? undefined : "an AbortSignal"),
  logger: (value) =>
    hasMethods(value, "emit") ? undefined : "an object with an emit(level, message, fields) method",
  clock: (value) =>
    hasMethods(value, "now", "monotonic", "sleep", "after", "every")
      ? undefined
      : "a Clock (now, monotonic, sleep, after, every)",
  random: (value) =>
    typeof value === "function" ? undefined : "a function returning a number in [0, 1)",
  root: (value) => (typeof value === "string" && value !== "" ? undefined : "a folder path"),
  runId: (value) =>
    typeof value === "string" && /^[0-9a-f]{32}$/.test(value)
      ? undefined
      : "32 lowercase hex characters",
  onProgress: (value) => (typeof value === "function" ? undefined : "a function"),
  onResult: (value) => (typeof value === "function" ? undefined : "a function"),
  retainResults: (value) => (typeof value === "boolean" ? undefined : "true or false"),
};

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
      const problem = LIBRARY_CHECKS[key]?.(value);
      if (problem) throw new UsageError(key, `${key} must be ${problem}`);
      continue;
    }
    const flag = `--${spec.flag}`;
    // A fleet option would be ignored by a run on this machine: refused, not ignored.
    if (spec.group === "Fleet")
      throw new UsageError(
        flag,
        `${flag} belongs to \`resilient-sync enqueue\` and \`resilient-sync worker\`, not to a run on this machine`,
      );
    if (spec.multiple) {
      if (!isStringArray(value))
        throw new UsageError(flag, `${flag} (${spec.key}) must be an array of strings`);
    } else if (spec.kind === "boolean") {
      if (typeof value !== "boolean")
        throw new UsageError(flag, `${flag} (${spec.key}) must be true or false`);
    } else if (spec.kind === "size") {
      if (typeof value !== "number" && typeof value !== "string")
        throw new UsageError(flag, `${flag} (${spec.key}) must be a number of bytes or a string`);
    } else if (spec.kind === "path" && value === "") {
      // The command line refuses `--lock-dir ""`: resolved, it would be the working folder.
      throw new UsageError(flag, `${flag} (${spec.key}) needs a non-empty path`);
    } else if (
      spec.kind !== "count" &&
      spec.kind !== "seconds" &&
      spec.kind !== "number" &&
      typeof value !== "string"
    ) {
      throw new UsageError(flag, `${flag} (${spec.key}) must be a string`);
    }
  }
}

/**
 * Refuses, for `sync()`'s callers, the keys of `COMMAND_LINE_ONLY`, naming what to use instead.
 * The command line itself hands them to the run it starts (they shape its logger and document).
 */
export function refuseCommandLineOnly(options: object): void {
  if ((options as { destination?: unknown }).destination === "-")
    throw new UsageError(
      "--destination",
      `--destination (destination) "-" is standard output on the command line (-o -); the library writes files: name one ("./-" for a file called -)`,
    );
  for (const [key, value] of Object.entries(options)) {
    const instead = COMMAND_LINE_ONLY[key];
    if (value === undefined || instead === undefined) continue;
    const flag = `--${OPTION_TABLE.find((spec) => spec.key === key)?.flag ?? key}`;
    throw new UsageError(
      key,
      `${key} (${flag}) belongs to the command line; in the library, ${instead}`,
    );
  }
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}
