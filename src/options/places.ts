/**
 * Where things go when the user does not say: the defaults that differ between a checkout of
 * this repository and an installed copy.
 *
 * - **A checkout** (the package outside any node_modules, or `root` / `$REPO_ROOT` given) keeps
 *   the Bash script's defaults, which `npm start` and `scripts/resilient_data_sync.sh` rely on:
 *   everything under `<root>/reports/resilient-sync`, and no arguments sync `<root>/sample.csv`.
 * - **An installed copy** (npm install -g, npx, a dependency) behaves like wget and curl: a
 *   source lands in the current folder, there is no bundled sample to sync, and the state (locks,
 *   markers, parts, circuits) lives in one place per user, `$XDG_STATE_HOME/resilient-sync` (else
 *   `~/.local/state/resilient-sync`), so two runs started from different folders still see each
 *   other's locks, and cron (whose working folder is $HOME) leaves no `~/reports` behind.
 */
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { defaultRoot, isInstalled } from "./package.js";

export interface Places {
  /** Installed copy: no sample, sources into the working folder, state in the user's state dir. */
  installed: boolean;
  /** `<root>`: only meaningful for a checkout. */
  root: string;
  lockDir: string;
  artifactRoot: string;
  /** What a bare invocation syncs (a checkout only). */
  sample?: string;
  /** Where `--source-url` lands without `--destination` (a checkout only). */
  destination?: string;
}

/** The state folder of an installed copy, after the XDG Base Directory rules. */
export function userStateDir(env: NodeJS.ProcessEnv): string {
  // The spec says a relative XDG_STATE_HOME is invalid and must be ignored.
  const xdg = env.XDG_STATE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, "resilient-sync");
  // An empty or relative HOME would put the state wherever the run starts: the account's own home.
  const home = env.HOME && isAbsolute(env.HOME) ? env.HOME : homedir();
  return join(home, ".local", "state", "resilient-sync");
}

/** The default places for a run given `root` (a library caller's) and the environment. */
export function placesOf(root: string | undefined, env: NodeJS.ProcessEnv): Places {
  // Empty is unset, as `${REPO_ROOT:-…}` reads it in the Bash script this tool replaces.
  const given = root ?? (env.REPO_ROOT || undefined);
  if (given === undefined && isInstalled()) {
    return {
      installed: true,
      root: process.cwd(),
      lockDir: userStateDir(env),
      artifactRoot: process.cwd(),
    };
  }
  const base = resolve(given ?? defaultRoot());
  const reports = join(base, "reports", "resilient-sync");
  return {
    installed: false,
    root: base,
    lockDir: join(reports, ".locks"),
    artifactRoot: reports,
    sample: join(base, "sample.csv"),
    destination: join(reports, "sample.csv"),
  };
}
