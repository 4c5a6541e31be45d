/**
 * What each link of a directory index page is to the directory being mirrored: a file or a
 * folder below it, a name that cannot be made safely, or a link that is not followed at all. The
 * page itself is parsed by `index-reader.ts` (htmlparser2, loaded only when a page is read).
 */
import {
  hasControlCharacter,
  isNameTooLong,
  isOwnFileName,
  MAX_NAME_BYTES,
} from "../../destinations/local/names.js";
import { canonicalPath } from "./within.js";

/** What one `<a href>` of an index page is to the directory source `root`. */
export type IndexLink =
  /** Below `root`: `segments` are the percent-decoded names from `root` down to it. */
  | { kind: "file" | "folder"; url: URL; segments: string[] }
  /**
   * Below `root`, but a name no file may have here (`..%2F`, control characters, ours …). `path`
   * is its path below `root` (no trailing `/`) for `--pattern` and `--max-depth` to judge: each
   * segment decoded, except one that does not decode or decodes to a name holding `/`, which
   * stays as written.
   */
  | { kind: "unsafe"; url: URL; reason: string; path: string; folder: boolean }
  /** Not followed: the parent, the page itself, another origin or scheme, a query (sort links). */
  | { kind: "outside"; href: string; reason: string };

/**
 * What `href` (as written in a page, entities already decoded) is to `root`, resolved against
 * `base` (the page's URL, or its `<base href>`). `root` is the directory source's URL without
 * userinfo, query or fragment, its path ending in `/`.
 *
 * Only links strictly below `root`, of its scheme, host and port, are followed (`wget -np`'s
 * rule, and more: never another host). A link with a query is never a file of the directory:
 * Apache's sort links (`?C=N;O=D`) and dynamic pages. The fragment is dropped. A link ending in
 * `/` is a folder; any other is a file.
 */
export function classifyLink(href: string, base: URL, root: URL): IndexLink {
  let url: URL;
  try {
    url = new URL(href, base);
  } catch {
    return { kind: "outside", href, reason: "not a URL" };
  }
  if (url.protocol !== root.protocol) return { kind: "outside", href, reason: "another scheme" };
  if (url.host !== root.host) return { kind: "outside", href, reason: "another origin" };
  if (url.search !== "")
    return { kind: "outside", href, reason: "a query (a sort link or a page)" };
  url.hash = "";
  // The WHATWG parser has already resolved `.`, `..` and their encoded forms (`%2e%2e`); the
  // escapes it keeps as written are compared in one spelling.
  const path = canonicalPath(url.pathname);
  const rootPath = canonicalPath(root.pathname);
  if (!path.startsWith(rootPath) || path === rootPath) {
    return { kind: "outside", href, reason: "not below the directory" };
  }
  // Links to the same place with other userinfo are the same place: the source's own
  // credentials are the ones used below it.
  url.username = "";
  url.password = "";
  const rest = path.slice(rootPath.length);
  const folder = rest.endsWith("/");
  const segments: string[] = [];
  const written = (folder ? rest.slice(0, -1) : rest).split("/");
  for (const raw of written) {
    const problem = unsafeSegment(raw);
    if (typeof problem === "object") {
      const path = written.map(decodedForMatching).join("/");
      return { kind: "unsafe", url, reason: problem.reason, path, folder };
    }
    segments.push(problem);
  }
  return { kind: folder ? "folder" : "file", url, segments };
}

/** A segment as `--pattern` reads it: decoded, unless that fails or makes a `/` of it. */
function decodedForMatching(raw: string): string {
  try {
    const name = decodeURIComponent(raw);
    return name.includes("/") ? raw : name;
  } catch {
    return raw;
  }
}

/** The decoded name of one path segment, or why no local file may be named so. */
function unsafeSegment(raw: string): string | { reason: string } {
  if (raw === "") return { reason: "an empty path segment (//)" };
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    return { reason: "a malformed percent-encoding, or a name that is not UTF-8" };
  }
  if (name === "." || name === "..") return { reason: `a path segment ${name}` };
  if (name.includes("/") || name.includes("\\")) return { reason: "an encoded / or \\ in a name" };
  if (hasControlCharacter(name)) return { reason: "a name holding control characters" };
  if (isNameTooLong(name)) return { reason: `a name longer than ${MAX_NAME_BYTES} bytes` };
  if (isOwnFileName(name)) {
    return { reason: "a name reserved for resilient-sync's own files (part, lock)" };
  }
  return name;
}
