import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { hasControlCharacter, isNameTooLong, MAX_NAME_BYTES } from "../destinations/local/names.js";
import { UsageError } from "../errors.js";
import { redactParsedUrl, redactUrl } from "../log/redact.js";

/** Where a source lives, parsed and validated once at the edge. */
export interface SourceLocation {
  /** As the user wrote it (may hold secrets: never log it). */
  raw: string;
  kind: "http" | "file";
  /** The URL for http(s); the absolute path for local files. */
  href: string;
  /** Safe to log: secrets redacted. */
  display: string;
  /** Circuit breaker key: `scheme://host:port` for http(s), the file URL for local files. */
  origin: string;
}

/** Anything that starts like `scheme:` is taken as a URL (and refused if malformed), never as a path. */
const URL_LIKE = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;
const DEFAULT_PORT: Record<string, string> = { "http:": "80", "https:": "443" };

/**
 * Parses one source: an http(s) URL, a file URL or a path. Throws `UsageError` naming
 * `argument` for a malformed URL, an unsupported scheme or a name that could escape its folder.
 */
export function parseSourceLocation(raw: string, argument: string): SourceLocation {
  if (raw.trim() === "") throw new UsageError(argument, `${argument} is empty`);
  if (!URL_LIKE.test(raw)) return localFile(resolve(raw), raw, argument);
  const scheme = raw.slice(0, raw.indexOf(":")).toLowerCase();
  if (scheme !== "http" && scheme !== "https" && scheme !== "file") {
    throw new UsageError(
      argument,
      `${argument} has unsupported scheme ${scheme} (http, https, file or a path; write ./${scheme}:… for a file)`,
    );
  }
  if (scheme !== "file" && !/^[a-zA-Z]+:\/\/[^/]/.test(raw)) {
    throw new UsageError(
      argument,
      `${argument} is not a valid URL (expected ${scheme}://host/…): ${redactUrl(raw)}`,
    );
  }

  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(argument, `${argument} is not a valid URL: ${redactUrl(raw)}`);
  }
  if (url.protocol === "file:") {
    if (url.host !== "" && url.host !== "localhost") {
      throw new UsageError(
        argument,
        `${argument}: file URLs must be local, got host ${url.hostname}`,
      );
    }
    let path: string;
    try {
      path = fileURLToPath(url);
    } catch {
      throw new UsageError(argument, `${argument} is not a valid file URL: ${redactUrl(raw)}`);
    }
    return localFile(path, raw, argument);
  }
  if (url.hostname === "")
    throw new UsageError(argument, `${argument} has no host: ${redactUrl(raw)}`);
  // An input list holds a location per line for the whole run: equal strings are shared, not
  // kept twice (most lines are their own href and display, and share their origin with the
  // line before).
  const href = url.href === raw ? raw : url.href;
  const display = redactParsedUrl(url, href);
  return {
    raw,
    kind: "http",
    href,
    display: display === href ? href : display,
    origin: sharedOrigin(originOf(url)),
  };
}

/**
 * Whether `written` (a `--checksum SOURCE=HEX` claim, say) names `location`, however it is
 * spelled: as given, as stored, a path relative to the working folder (`./dir/` for `dir`), a
 * `file://` URL for a path (and a path for a `file://` source), or a URL in another case or
 * escaping (`HTTP://H/d/`).
 */
export function namesLocation(location: SourceLocation, written: string): boolean {
  if (location.raw === written || location.href === written) return true;
  if (location.kind === "file") {
    // A file URL names the path it stands for, whichever way the source itself was written.
    if (/^file:/i.test(written)) {
      try {
        return fileURLToPath(new URL(written)) === location.href;
      } catch {
        return false;
      }
    }
    return !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(written) && resolve(written) === location.href;
  }
  try {
    return new URL(written).href === location.href;
  } catch {
    return false;
  }
}

/** The circuit-breaker key of an http(s) URL: `scheme://host:port`, the port always written. */
export function originOf(url: URL): string {
  return `${url.protocol}//${url.hostname}:${url.port || DEFAULT_PORT[url.protocol]}`;
}

let lastOrigin = "";
/** `origin`, or the equal string returned last time: one string for a run of lines of one origin. */
function sharedOrigin(origin: string): string {
  if (origin !== lastOrigin) lastOrigin = origin;
  return lastOrigin;
}

function localFile(resolved: string, raw: string, argument: string): SourceLocation {
  // No path holds a NUL (a file URL's `%00`): the filesystem calls would refuse it mid-run, as
  // an error taken for a transient one and retried.
  if (resolved.includes("\0"))
    throw new UsageError(argument, `${argument} holds a NUL byte (%00), which no file name can`);
  // An absolute, normal path given is its own href: one string, not two (see the http case).
  const path = resolved === raw ? raw : resolved;
  return { raw, kind: "file", href: path, display: path, origin: `file://${path}` };
}

/**
 * The last path segment, percent-decoded, refused when it could escape the artifact root
 * (`..`, encoded separators, control characters) or is empty.
 */
export function nameFromUrlPath(pathname: string, argument: string): string {
  const segment = pathname.slice(pathname.lastIndexOf("/") + 1);
  let name: string;
  try {
    name = decodeURIComponent(segment);
  } catch {
    throw new UsageError(argument, `${argument} has a malformed percent-encoding in its file name`);
  }
  if (name === "" || name === "." || name === ".." || hasUnsafeCharacter(name)) {
    throw new UsageError(
      argument,
      `${argument} does not end in a usable file name (got ${JSON.stringify(name)}); use --destination`,
    );
  }
  // Refused here, at plan time, rather than by the filesystem (ENAMETOOLONG) halfway through a run.
  if (isNameTooLong(name)) {
    throw new UsageError(
      argument,
      `${argument} ends in a file name longer than ${MAX_NAME_BYTES} bytes (${Buffer.byteLength(name)}); use --destination`,
    );
  }
  return name;
}

/** Separators and control characters: a name holding one could escape or corrupt its folder. */
function hasUnsafeCharacter(name: string): boolean {
  return name.includes("/") || name.includes("\\") || hasControlCharacter(name);
}

/** Whether an http(s) source names a directory: its path ends in `/` (`https://host` is `/`). */
export function isRemoteDirectory(location: SourceLocation): boolean {
  return location.kind === "http" && httpPathname(location.href).endsWith("/");
}

/**
 * `new URL(href).pathname` of an http(s) `href` as `parseSourceLocation` stores it (serialised by
 * the URL parser), read off the string: every pair of a batch needs its path, and a parse costs
 * microseconds. In a serialised http(s) URL the path is the first `/` after `//` (userinfo and
 * host hold none; an empty path is written `/`) up to the first `?` or `#`, which the path only
 * ever holds percent-encoded. Property-tested against the URL parser.
 */
export function httpPathname(href: string): string {
  const start = href.indexOf("/", href.indexOf("//") + 2);
  if (start < 0) return "/"; // not serialised by the URL parser, which always writes a path
  let end = href.length;
  const query = href.indexOf("?", start);
  if (query >= 0) end = query;
  const fragment = href.indexOf("#", start);
  if (fragment >= 0 && fragment < end) end = fragment;
  return href.slice(start, end);
}
