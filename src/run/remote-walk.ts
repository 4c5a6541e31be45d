/**
 * The pieces of a remote directory's walk that judge what it found (`remote-dirs.ts` does the
 * walking): what one page keeps of its links, which folder a redirect landed in, and the files
 * that may not take a folder's place. Each is linear in what it is given: a chain of folders
 * thousands deep must cost no more than its links.
 */
import type { SyncError } from "../errors.js";
import { classifyLink, type IndexLink } from "../sources/http/index-links.js";
import { canonicalPath } from "../sources/http/within.js";
import { type PlannedPair, refused } from "./pairs.js";

/**
 * The most entries (files `--pattern` takes, and folders) one directory source may list: its
 * pairs are planned in memory before any transfer starts. A larger tree fails as a whole, saying
 * so, rather than being mirrored in part: sync its folders as separate sources.
 */
export const MAX_REMOTE_ENTRIES = 100_000;

/**
 * What one page's attempt keeps of its links: files within `--max-depth` that `--pattern` takes,
 * folders whose files could still be within it, and unsafe names (to be refused) that would be
 * either — a file by both (decoded where it can be), so that a name the pattern leaves out
 * fails nothing, as in a local directory; a folder by `--max-depth` alone (what the pattern takes
 * inside it cannot be known) — at most `room` of them, each counted once however often the page
 * links it, past which `tooMany` is thrown to stop reading the page.
 */
export function keeper(
  maxDepth: number,
  matches: (path: string) => boolean,
  room: number,
  tooMany: SyncError,
): { add(link: IndexLink): void; result(): IndexLink[] } {
  const kept: IndexLink[] = [];
  // A page may link an entry twice (Apache's icons are links too): counted once against `room`.
  const seen = new Set<string>();
  return {
    add(link) {
      if (link.kind === "outside") return;
      const key = `${link.kind === "folder" || (link.kind === "unsafe" && link.folder) ? "d" : "f"}${canonicalPath(link.url.pathname)}`;
      if (seen.has(key)) return;
      if (link.kind === "file") {
        if (link.segments.length > maxDepth || !matches(link.segments.join("/"))) return;
      } else if (link.kind === "folder") {
        // A folder at depth d holds files at depth d + 1.
        if (link.segments.length >= maxDepth) return;
      } else if (link.kind === "unsafe") {
        const depth = link.path.split("/").length;
        if (link.folder ? depth >= maxDepth : depth > maxDepth || !matches(link.path)) return;
      }
      seen.add(key);
      kept.push(link);
      if (kept.length > room) throw tooMany;
    },
    result: () => kept,
  };
}

/**
 * A query made only of Apache's index options, with the values Apache gives them: the column
 * sorted by (`C=N|M|S|D`), its order (`O=A|D`), the format (`F=0|1|2`), versions (`V=0|1`).
 * Anything else (`P=`, a token) is a query of its own and is kept.
 */
const APACHE_OPTION = "(?:C=[NMSD]|O=[AD]|F=[012]|V=[01])";
const APACHE_INDEX_OPTIONS = new RegExp(`^${APACHE_OPTION}(?:[;&]${APACHE_OPTION})*$`);

/**
 * The URL a directory source's own index is read from: `href`, less a query made only of
 * Apache's index options (`?C=M;O=D`, a URL copied after clicking a column header). Read with it,
 * the first page lists in another order than the pages of the folders below, read without; a
 * link loop back to it would then not match its digest, and the tree would be copied again below
 * the loop. Any other query is kept.
 */
export function indexPageOf(href: string): string {
  const at = href.indexOf("?");
  if (at < 0) return href;
  const end = href.indexOf("#", at);
  const query = href.slice(at + 1, end < 0 ? href.length : end);
  return APACHE_INDEX_OPTIONS.test(query) ? href.slice(0, at) : href;
}

/** A decoded `/`-separated path, percent-encoded again segment by segment. */
export function encodePath(rel: string): string {
  return rel.split("/").map(encodeURIComponent).join("/");
}

/** The decoded path below `root` of the folder `url` lies in (`""` for `root`), if it is below it. */
export function folderKeyOf(url: URL, root: URL): string | undefined {
  const folder = new URL(url.href);
  folder.pathname = url.pathname.slice(0, url.pathname.lastIndexOf("/") + 1);
  if (canonicalPath(folder.pathname) === canonicalPath(root.pathname)) return "";
  const link = classifyLink(folder.pathname, folder, root);
  return link.kind === "folder" ? link.segments.join("/") : undefined;
}

/**
 * `files` (by decoded path) sorted by path, each refused when the same path is a folder too:
 * one of `folders`, or a folder some other file lies in (`x` and `x/y`). A server may list `x`
 * both ways; the file may not take the folder's place, nor the other way round.
 *
 * The set of folders is kept closed under "the folder above": each path is added walking up
 * from it and stopping at the first one already known (whose own folders are known too), so
 * every distinct folder path is built once. A chain of folders thousands deep thus costs its
 * length, not its length squared for every file in it.
 */
export function refuseFilesListedAsFolders(
  files: ReadonlyMap<string, PlannedPair>,
  folders: Iterable<string>,
): PlannedPair[] {
  const folderNames = new Set<string>();
  const close = (path: string) => {
    for (let at = path; at !== "" && !folderNames.has(at); at = parentOf(at)) folderNames.add(at);
  };
  for (const folder of folders) close(folder);
  for (const rel of files.keys()) close(parentOf(rel));
  return [...files.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([rel, pair]) =>
      folderNames.has(rel)
        ? refused(pair.source, pair.destination, "it is listed as a folder too")
        : pair,
    );
}

/** The folder `rel` lies in (`a/b/c` → `a/b`, `a` → `""`). */
function parentOf(rel: string): string {
  return rel.slice(0, Math.max(rel.lastIndexOf("/"), 0));
}
