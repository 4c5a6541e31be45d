/**
 * Remote directories: a source URL whose path ends in `/` is a directory. Its HTML index is read,
 * the folders it links below it are read in turn (breadth first, to `--max-depth`), and every
 * file found that `--pattern` takes becomes an ordinary http pair, mirrored under
 * `--artifact-root/<dirname>/` as a local directory is (docs/remote-directories.md says why each
 * rule is what it is).
 *
 * Like the local walk, this is planning: it writes nothing, and what it cannot read becomes a pair
 * that fails touching nothing. Files gone from the server are not removed here (copy, not sync).
 */

import { join, resolve } from "node:path";
import { isDeadline } from "../core/context.js";
import { SyncError } from "../errors.js";
import { isOriginFailure } from "../health/origin-health.js";
import { redactUrl } from "../log/redact.js";
import type { GivenSource, ResolvedOptions } from "../options/normalize.js";
import type { IndexLink } from "../sources/http/index-links.js";
import { nameFromUrlPath, originOf, type SourceLocation } from "../sources/location.js";
import { checked, failing, isInside, type PlannedPair, pairOf, refused } from "./pairs.js";
import { patternMatcher } from "./pattern.js";
import { type Folder, repeatsDown, stepBetween } from "./remote-loops.js";
import { type RemoteListing, readPageWithRetries } from "./remote-pages.js";
import {
  encodePath,
  folderKeyOf,
  indexPageOf,
  keeper,
  MAX_REMOTE_ENTRIES,
  refuseFilesListedAsFolders,
} from "./remote-walk.js";

export type { RemoteListing } from "./remote-pages.js";
export { MAX_REMOTE_ENTRIES } from "./remote-walk.js";

/**
 * The local name of a remote directory: its last path segment, percent-decoded (refused like a
 * file name when unsafe); for a server's root (`https://host/`), the host with any non-default
 * port (`host`, `host:8080`), as `wget -r` names it. Throws `UsageError` for an unsafe name.
 */
export function remoteDirectoryName(url: URL): string {
  if (url.pathname === "/") return url.host;
  return nameFromUrlPath(url.pathname.slice(0, -1), "SOURCE");
}

/**
 * The pairs of the remote directory `given`: every file below it that `--pattern` takes, landing
 * at `<folder>/<path below the directory>`, where the folder is `--destination` when one is
 * given, else `--artifact-root/<dirname>` (with `--source-url` too: never the sample's default).
 * `"empty directory"` when it lists no such file.
 *
 * Never throws for what the server says: an index that cannot be read becomes a failing pair
 * (the source's own, when it is the first page; the folder's, for a folder below it), and so
 * does a link whose name is unsafe. Rejects only with the signal's reason (an interrupt).
 */
export async function expandRemoteDirectory(
  given: GivenSource,
  options: ResolvedOptions,
  listing: RemoteListing,
): Promise<PlannedPair[] | "empty directory"> {
  const { location } = given;
  const asGiven = new URL(location.href);
  const root = new URL(asGiven.href);
  for (const part of ["username", "password", "search", "hash"] as const) root[part] = "";
  let folder: string;
  try {
    folder = options.directoryDestination ?? join(options.artifactRoot, remoteDirectoryName(root));
  } catch (error) {
    return [refused(location, options.artifactRoot, (error as Error).message)];
  }
  const within = options.directoryDestination ?? options.artifactRoot;

  const maxDepth = options.maxDepth ?? Number.POSITIVE_INFINITY;
  const matches = await patternMatcher(options.pattern);
  /** The source's userinfo goes with every URL below it (same origin); logs never show it. */
  const withUserinfo = (url: URL): string => {
    const out = new URL(url.href);
    out.username = asGiven.username;
    out.password = asGiven.password;
    return out.href;
  };
  const sourceAt = (url: URL): SourceLocation => {
    const href = withUserinfo(url);
    return { raw: href, kind: "http", href, display: redactUrl(href), origin: originOf(url) };
  };

  const files = new Map<string, PlannedPair>();
  const unsafe = new Map<string, PlannedPair>();
  const failed: PlannedPair[] = [];
  const folders: Folder[] = [{ href: indexPageOf(location.href), rel: "", parent: undefined }];
  /** Folders queued or read, by decoded path: one folder linked twice (or reached by a redirect) is read once. */
  const seen = new Set<string>([""]);
  let entries = 0;
  let pages = 0;
  const tooMany = new SyncError(
    "invalid_source",
    `${location.display}: lists more than ${MAX_REMOTE_ENTRIES} entries (files and folders); sync its folders as separate sources, or narrow it with --pattern or --max-depth`,
  );

  for (let next = 0; next < folders.length; next += 1) {
    const at = folders[next] as Folder;
    let page: { url: URL; digest: string; kept: IndexLink[] };
    try {
      page = await readPageWithRetries(listing, at.href, root, location.display, () =>
        keeper(maxDepth, matches, MAX_REMOTE_ENTRIES - entries, tooMany),
      );
    } catch (error) {
      if (listing.signal.aborted && !isDeadline(listing.signal.reason)) throw listing.signal.reason;
      const failure = error instanceof SyncError ? error : new SyncError("network", String(error));
      if (failure === tooMany || at.rel === "") return [failing(location, folder, failure)];
      // A dead origin, an open circuit or the deadline would fail every page left: stop, and
      // say how many.
      const stop =
        failure.code === "circuit_open" || isOriginFailure(failure) || isDeadline(failure);
      const left = folders.length - next - 1;
      const note = stop && left > 0 ? ` (listing stopped: ${left} more folders not listed)` : "";
      failed.push(
        failing(
          sourceAt(new URL(at.href)),
          join(folder, at.rel),
          new SyncError(failure.code, `${failure.message}${note}`, {
            ...(failure.status === undefined ? {} : { status: failure.status }),
          }),
        ),
      );
      if (stop) break;
      continue;
    }
    pages += 1;
    // A redirect may land on a folder already read (an alias): its links are known.
    const landed = folderKeyOf(page.url, root);
    if (landed !== undefined && landed !== at.rel) {
      if (seen.has(landed)) continue;
      seen.add(landed);
    }
    // A folder that lists exactly what a folder above it lists (every name, size and date) is
    // that folder again: a link loop (`loop -> ..`), which would otherwise repeat the tree at
    // every level until the server gives up. Not a failure: nothing is lost but copies.
    let echoed = at.parent;
    while (echoed !== undefined && echoed.digest !== page.digest) echoed = echoed.parent;
    if (echoed !== undefined) {
      const step = stepBetween(echoed, at);
      // Its folders are not walked (--max-depth): a loop would repeat no deeper than its own
      // files, so they are copied, as wget -r -l copies a loop to its level; nothing is asked.
      const lastLevel = at.rel.split("/").length + 1 >= maxDepth;
      // The folder it repeats was itself found to be the same repeat by the same step: this is
      // the next real folder of that chain (a loop link elsewhere below repeats by another step,
      // or repeats a folder that was never cleared, and is probed).
      const cleared = echoed.notALoop?.digest === page.digest && echoed.notALoop.step === step;
      if (cleared) at.notALoop = { digest: page.digest, step };
      if (lastLevel || cleared) echoed = undefined;
      else {
        const repeats = await repeatsDown(listing, at, echoed, step, root, location.display);
        pages += repeats.pages;
        if (repeats.unknown) {
          // Whether it is a loop cannot be told: it fails as a folder that cannot be read does,
          // rather than be skipped in silence (exit 0) or walked blind.
          failed.push(
            failing(
              sourceAt(new URL(at.href)),
              join(folder, at.rel),
              new SyncError(
                repeats.unknown.code,
                `${redactUrl(at.href)}: lists what a folder above it lists, and whether it is a link loop cannot be told: ${repeats.unknown.message}`,
                repeats.unknown.status === undefined ? {} : { status: repeats.unknown.status },
              ),
            ),
          );
          continue;
        }
        // Real folders that list alike: walked; the next of them by the same step is no loop
        // either.
        if (!repeats.loop) {
          at.notALoop = { digest: page.digest, step };
          echoed = undefined;
        }
      }
    }
    if (echoed !== undefined) {
      listing.logger.emit("warning", "skipped folder", {
        source: location.display,
        folder: redactUrl(at.href),
        reason: `it lists exactly what ${redactUrl(new URL(echoed.rel === "" ? "" : `${encodePath(echoed.rel)}/`, root).href)} lists: a link loop (sync it as a source of its own if it is not)`,
      });
      continue;
    }
    at.digest = page.digest;
    for (const link of page.kept) {
      if (link.kind === "outside") continue;
      if (link.kind === "unsafe") {
        // Refused links are pairs of the plan too (one each, in the report): they count against
        // the cap, or a page of a million junk links would fill memory past any bound.
        const key = link.url.href;
        if (unsafe.has(key)) continue;
        unsafe.set(key, refused(sourceAt(link.url), folder, link.reason));
      } else if (link.kind === "folder") {
        const rel = link.segments.join("/");
        if (seen.has(rel)) continue;
        seen.add(rel);
        folders.push({ href: withUserinfo(link.url), rel, parent: at });
      } else {
        const rel = link.segments.join("/");
        if (files.has(rel)) continue;
        const destination = resolve(folder, ...link.segments);
        const pair = isInside(destination, folder)
          ? {
              ...checked(pairOf(sourceAt(link.url), destination, rel)),
              destinationWithin: within,
              // Its redirects may not leave the directory, as the index pages' may not.
              within: root.href,
            }
          : refused(sourceAt(link.url), folder, "the file name would leave the artifact root");
        files.set(rel, pair);
      }
      entries += 1;
      if (entries > MAX_REMOTE_ENTRIES) return [failing(location, folder, tooMany)];
    }
  }

  listing.logger.emit("info", "listed directory", {
    source: location.display,
    pages,
    files: files.size,
    folders: seen.size - 1,
  });
  // A file may not take the place of a folder of the same path (that would refuse the whole run).
  const planned = refuseFilesListedAsFolders(files, seen);
  if (planned.length === 0 && unsafe.size === 0 && failed.length === 0) return "empty directory";
  return [...planned, ...unsafe.values(), ...failed];
}
