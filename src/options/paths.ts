/** Relative paths of a library call made absolute at the moment of the call. */
import { resolve } from "node:path";
import type { SyncOptions } from "./resolved.js";
import { OPTION_TABLE } from "./table.js";

/** What is taken for a URL (`scheme:`), never for a path: as `parseSourceLocation` reads it. */
const URL_LIKE = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;

/** `path` against `cwd` unless it is a URL or `-` (stdin). */
export function absoluteIn(cwd: string, path: string): string {
  return path === "-" || URL_LIKE.test(path) ? path : resolve(cwd, path);
}

/**
 * `options` with every path (the option table's `path` options, `root`, `sourceUrl` and the
 * sources) absolute against `cwd`. For a call that must read something before it resolves its
 * options (an `inputFile`): a `chdir` meanwhile must not move the run.
 */
export function withAbsolutePaths<T extends SyncOptions>(options: T, cwd: string): T {
  const fixed = { ...options } as Record<string, unknown>;
  for (const spec of OPTION_TABLE) {
    const value = fixed[spec.key];
    if (spec.kind === "path" && typeof value === "string" && value !== "")
      fixed[spec.key] = absoluteIn(cwd, value);
  }
  if (typeof options.root === "string" && options.root !== "")
    fixed.root = resolve(cwd, options.root);
  if (typeof options.sourceUrl === "string" && options.sourceUrl.trim() !== "")
    fixed.sourceUrl = absoluteIn(cwd, options.sourceUrl);
  if (options.sources) fixed.sources = options.sources.map((source) => absoluteIn(cwd, source));
  return fixed as T;
}
