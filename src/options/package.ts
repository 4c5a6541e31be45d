/** Where resilient-sync's own package lives, and what `<root>` means when nobody says. */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The folder holding resilient-sync's package.json: the nearest one above this file that has a
 * `name` — dist/cli/package.json only marks the bundled CLI as CommonJS (scripts/bundle.mjs).
 */
export function packageRoot(): string {
  root ??= findPackageRoot();
  return root;
}

let root: string | undefined;

function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i += 1) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && "name" in JSON.parse(readFileSync(manifest, "utf8"))) return dir;
    dir = dirname(dir);
  }
  throw new Error("resilient-sync: cannot find its package.json");
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

/** The package version, read once per call from package.json. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as {
    version: string;
  };
  return pkg.version;
}
