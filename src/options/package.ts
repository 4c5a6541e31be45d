/** Where resilient-sync's own package lives, and what `<root>` means when nobody says. */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The folder holding resilient-sync's package.json: the nearest one above this file that names a
 * package — dist/cli/package.json only marks the bundled CLI as CommonJS (scripts/bundle.mjs).
 */
export function packageRoot(): string {
  return ownPackage().root;
}

let found: { root: string; version: string } | undefined;

/** Found once per process: the folder and the version never change under a running copy. */
function ownPackage(): { root: string; version: string } {
  if (found) return found;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i += 1) {
    const manifest = readManifest(join(dir, "package.json"));
    // One with no name only says how the files beside it load (dist/cli's): the package is higher.
    if (manifest !== undefined && "name" in manifest) {
      if (typeof manifest.version !== "string")
        throw new Error(`resilient-sync: ${join(dir, "package.json")} has no version`);
      found = { root: dir, version: manifest.version };
      return found;
    }
    dir = dirname(dir);
  }
  throw new Error("resilient-sync: cannot find its package.json");
}

/**
 * A package.json's fields; `undefined` when there is none. One that cannot be read or is not a
 * JSON object throws: a damaged copy must not adopt the package.json of a project above it.
 */
function readManifest(path: string): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  const value: unknown = JSON.parse(readFileSync(path, "utf8"));
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new Error(`resilient-sync: ${path} is not a package manifest`);
  return value as Record<string, unknown>;
}

/**
 * Whether this copy was installed by npm (globally, by npx, as a dependency) rather than run from
 * a checkout of the repository: installed packages live under a node_modules folder.
 * `$RESILIENT_SYNC_INSTALLED=1` makes a checkout behave as installed (the tests of those defaults).
 */
export function isInstalled(): boolean {
  if (process.env.RESILIENT_SYNC_INSTALLED === "1") return true;
  return packageRoot().split(sep).includes("node_modules");
}

/**
 * `<root>` when neither `root` nor `$REPO_ROOT` is given: the project's own folder when run from
 * its checkout (the Bash script's behaviour), the working folder when installed — nothing is
 * ever written inside node_modules.
 */
export function defaultRoot(): string {
  return isInstalled() ? process.cwd() : packageRoot();
}

/** The package version, from its package.json. */
export function packageVersion(): string {
  return ownPackage().version;
}
