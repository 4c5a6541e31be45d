/**
 * No pair may write into the lock dir. It holds the run's state — circuit records, markers, part
 * records — which later runs trust: a file synced into it (a remote directory named `.locks`,
 * whose default place is `<artifact-root>/.locks`, or a `--destination` there) would let whoever
 * serves the source plant state, such as an open circuit for any origin. Such a pair is refused
 * at plan time and fails touching nothing.
 */
import { realpath } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { childPath, resolvedPath } from "../fs/paths.js";
import { isInside, type PlannedPair, refused } from "./pairs.js";

/** Replaces, in place, every pair of `pairs` whose destination lies in `lockDir` by a refused one. */
export async function refuseInsideLockDir(pairs: PlannedPair[], lockDir: string): Promise<void> {
  const lexical = resolve(lockDir);
  const real = await realOf(lexical);
  /** Each folder destinations are made in: its resolved form and its real path, looked up once. */
  const bases = new Map<string, { resolved: string; real: string }>();
  for (let i = 0; i < pairs.length; i += 1) {
    const pair = pairs[i] as PlannedPair;
    if (pair.invalid) continue;
    const destination = resolvedPath(pair.destination);
    // The folders below `destinationWithin` are made by the sync and never links (they are
    // refused if they are): that folder's real path, plus the rest, is where the file lands.
    const given = pair.destinationWithin ?? dirname(destination);
    let base = bases.get(given);
    if (!base) {
      const resolved = resolve(given);
      base = { resolved, real: await realOf(resolved) };
      bases.set(given, base);
    }
    // Both paths are resolved: a destination inside its base is the base plus a plain suffix,
    // which spares `relative()` (two more resolves) per pair — a 10,000-file batch's plan
    // spent most of its time here.
    const below = isInside(destination, base.resolved);
    const rest = below
      ? destination.slice(base.resolved.length + (base.resolved.endsWith(sep) ? 0 : 1))
      : relative(base.resolved, destination);
    // A suffix of a resolved path is normal already: appended, not joined (join normalises).
    const landing = below && rest !== "" ? childPath(base.real, rest) : join(base.real, rest);
    const inside =
      isInside(destination, lexical) ||
      isInside(landing, lexical) ||
      landing === lexical ||
      isInside(destination, real) ||
      isInside(landing, real) ||
      landing === real;
    if (inside) {
      pairs[i] = refused(
        pair.source,
        pair.destination,
        `the destination lies inside the lock dir ${lockDir}, where the run keeps its state; choose another --artifact-root, --destination or --lock-dir`,
      );
    }
  }
}

/** The real path of `path`: of its nearest existing folder, with the rest appended. */
async function realOf(path: string): Promise<string> {
  let rest = "";
  for (let at = path; ; at = dirname(at)) {
    const found = await realpath(at).catch(() => undefined);
    if (found !== undefined) return rest === "" ? found : join(found, rest);
    if (dirname(at) === at) return path;
    rest = rest === "" ? relative(dirname(at), at) : join(relative(dirname(at), at), rest);
  }
}
