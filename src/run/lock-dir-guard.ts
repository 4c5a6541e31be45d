/**
 * No pair may write into the lock dir. It holds the run's state — circuit records, markers, part
 * records — which later runs trust: a file synced into it (a remote directory named `.locks`,
 * whose default place is `<artifact-root>/.locks`, or a `--destination` there) would let whoever
 * serves the source plant state, such as an open circuit for any origin. Such a pair is refused
 * at plan time and fails touching nothing.
 */
import { realpath } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { isInside, type PlannedPair, refused } from "./pairs.js";

/** Replaces, in place, every pair of `pairs` whose destination lies in `lockDir` by a refused one. */
export async function refuseInsideLockDir(pairs: PlannedPair[], lockDir: string): Promise<void> {
  const lexical = resolve(lockDir);
  const real = await realOf(lexical);
  /** Real paths of the folders destinations are made in, each looked up once. */
  const reals = new Map<string, Promise<string>>();
  for (let i = 0; i < pairs.length; i += 1) {
    const pair = pairs[i] as PlannedPair;
    if (pair.invalid) continue;
    const destination = resolve(pair.destination);
    // The folders below `destinationWithin` are made by the sync and never links (they are
    // refused if they are): that folder's real path, plus the rest, is where the file lands.
    const base = pair.destinationWithin ?? dirname(destination);
    let lookup = reals.get(base);
    if (!lookup) {
      lookup = realOf(base);
      reals.set(base, lookup);
    }
    const landing = join(await lookup, relative(base, destination));
    const inside = [lexical, real].some(
      (dir) => isInside(destination, dir) || isInside(landing, dir) || landing === dir,
    );
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
