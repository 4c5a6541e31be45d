/**
 * Two pairs on one destination, or one destination inside another's (a file where another pair
 * needs a folder): refused up front, naming both.
 *
 * It runs over every pair of the plan, so it is written for a million of them: each destination
 * is made once and held in one array, sorted through an index array (no wrapper object per pair,
 * no set of every destination), and the folders above the destinations are looked up once each
 * — a directory source's files share a handful of folders — by binary search in the sorted
 * destinations. The first version (an object per pair, a `Set`, a walk up from every file) held
 * 30 MiB more at a 100,000-file plan's peak (docs/performance.md).
 */
import { dirname } from "node:path";
import { UsageError } from "../errors.js";
import { resolvedPath } from "../fs/paths.js";
import type { PlannedPair } from "./pairs.js";

/** Throws `UsageError` naming the first two pairs that collide or nest, in destination order. */
export function refuseOverlaps(pairs: readonly PlannedPair[]): void {
  const kept: PlannedPair[] = [];
  const destinations: string[] = [];
  for (const pair of pairs) {
    if (pair.invalid) continue;
    kept.push(pair);
    // A directory's file derives its destination when asked: asked once here.
    destinations.push(pair.destination);
  }
  const order = new Uint32Array(destinations.length);
  for (let i = 0; i < order.length; i += 1) order[i] = i;
  order.sort((a, b) => compare(destinations[a] as string, destinations[b] as string));
  const at = (rank: number) => destinations[order[rank] as number] as string;
  const pairAt = (rank: number) => kept[order[rank] as number] as PlannedPair;

  for (let rank = 1; rank < order.length; rank += 1) {
    if (at(rank) === at(rank - 1)) {
      throw new UsageError(
        "SOURCE",
        `two sources map to one destination ${at(rank)}: ${pairAt(rank - 1).source.display} and ${pairAt(rank).source.display}`,
      );
    }
  }

  /** The rank of a destination equal to `path`, or -1. */
  const rankOf = (path: string): number => {
    let low = 0;
    let high = order.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const c = compare(at(middle), path);
      if (c === 0) return middle;
      if (c < 0) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  };
  // Folders known to lie inside no destination: each one, and every folder above it, checked.
  const clear = new Set<string>();
  for (let rank = 0; rank < order.length; rank += 1) {
    const destination = at(rank);
    // Resolved once, then `dirname` walks up: the same folders as resolving ".." at each step.
    for (
      let dir = dirname(resolvedPath(destination));
      dir !== dirname(dir) && !clear.has(dir);
      dir = dirname(dir)
    ) {
      const file = rankOf(dir);
      if (file >= 0) {
        throw new UsageError(
          "SOURCE",
          `${destination} (from ${pairAt(rank).source.display}) would lie inside the file ${dir} (from ${pairAt(file).source.display})`,
        );
      }
      clear.add(dir);
    }
  }
}

/** Code-unit order, as `<` orders strings. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
