/**
 * Telling a link loop from real folders that list alike, in a remote directory's walk
 * (`remote-dirs.ts`): a folder whose page lists what a folder above it lists is probed, the same
 * step down asked again, until the repeat ends (real folders) or has gone on long enough to be a
 * loop. docs/remote-directories.md says why.
 */
import { isDeadline } from "../core/context.js";
import { SyncError } from "../errors.js";
import { type RemoteListing, readPageWithRetries } from "./remote-pages.js";
import { encodePath, keeper, MAX_REMOTE_ENTRIES } from "./remote-walk.js";

/** A folder of a remote directory's walk: queued, then read. */
export interface Folder {
  /** The page to read, with the source's userinfo. */
  href: string;
  /** Decoded path below the source, `/`-separated, empty for the source itself. */
  rel: string;
  /**
   * The folder whose page linked this one (none for the source itself): the way down to it.
   * A pointer, not a list of paths, so that a chain of folders thousands deep costs its length.
   */
  parent: Folder | undefined;
  /** What its page lists (`ListingDigest`), once read. */
  digest?: string;
  /**
   * What this folder repeats from a folder above it, and by which step down, when probing (or
   * the folder it repeats) found that no loop: the next folder of that chain, repeating it by the
   * same step, is no sign of one.
   */
  notALoop?: { digest: string; step: string };
}

/**
 * How many times a folder's listing must repeat, one step further down each time, before it is
 * taken for a link loop. nginx and Apache give dates to the minute and no size for folders, so a
 * real `pkg/pkg/pkg/data.txt` made in one minute lists `pkg/` exactly as `pkg/` above it does,
 * for two levels; a loop repeats until the server's link limit. Costs a loop this many pages.
 */
const LOOP_REPEATS = 8;

/** `at`'s path below `echoed`, a folder above it (`x/loop` for `a/x/loop` below `a`). */
export function stepBetween(echoed: Folder, at: Folder): string {
  return echoed.rel === "" ? at.rel : at.rel.slice(echoed.rel.length + 1);
}

/**
 * Whether `at`, whose page lists what `echoed` above it lists, is a link loop: the same `step`
 * down from it (once more each time) must list the same again, to `LOOP_REPEATS` repeats. A page
 * that differs, or is not there (404), ends it: not a loop. A page that cannot be read otherwise
 * (a 5xx, an open circuit, the deadline) proves nothing: `unknown` is its failure. Rejects only
 * with the signal's reason.
 */
export async function repeatsDown(
  listing: RemoteListing,
  at: Folder,
  echoed: Folder,
  step: string,
  root: URL,
  display: string,
): Promise<{ loop: boolean; pages: number; unknown?: SyncError }> {
  let rel = at.rel;
  for (let repeat = 1; repeat < LOOP_REPEATS; repeat += 1) {
    rel = `${rel}/${step}`;
    const href = new URL(`${encodePath(rel)}/`, root).href;
    try {
      const page = await readPageWithRetries(listing, href, root, display, () =>
        keeper(Number.POSITIVE_INFINITY, () => true, MAX_REMOTE_ENTRIES, LOOP_PROBE_TOO_MANY),
      );
      if (page.digest !== echoed.digest) return { loop: false, pages: repeat };
    } catch (error) {
      if (listing.signal.aborted && !isDeadline(listing.signal.reason)) throw listing.signal.reason;
      const failure = error instanceof SyncError ? error : new SyncError("network", String(error));
      if (failure.code === "not_found") return { loop: false, pages: repeat };
      return { loop: false, pages: repeat, unknown: failure };
    }
  }
  return { loop: true, pages: LOOP_REPEATS - 1 };
}

const LOOP_PROBE_TOO_MANY = new SyncError("invalid_source", "a probed page lists too much");
