/**
 * The one rule for what may be requested on behalf of a remote directory, its index pages and
 * its files alike: a URL of the directory's scheme, host and port, at or below its path. A
 * redirect anywhere else is refused before it is sent — the directory's credentials (URL
 * userinfo, netrc, `--header` values) must never reach another server, and what lies outside the
 * directory is not part of it.
 */
import { SyncError } from "../../errors.js";
import { redactUrl } from "../../log/redact.js";

/** Whether `url` lies within the directory `root` (same origin, at or below its path). */
export function isWithinDirectory(url: URL, root: URL): boolean {
  return (
    url.origin === root.origin &&
    canonicalPath(url.pathname).startsWith(canonicalPath(root.pathname))
  );
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * `pathname` spelled one way for comparing (RFC 3986 §6.2.2): percent-escapes in upper case, and
 * those of unreserved characters decoded. `/caf%c3%a9/` and `/caf%C3%A9/` are one folder, as are
 * `/%7Ebob/` and `/~bob/`: the parser keeps escapes as written, and a page linking its own folder
 * in another spelling than the URL given had every link dropped as outside it.
 */
export function canonicalPath(pathname: string): string {
  if (!pathname.includes("%")) return pathname;
  return pathname.replace(/%[0-9a-fA-F]{2}/g, (triplet) => {
    const char = String.fromCharCode(Number.parseInt(triplet.slice(1), 16));
    return UNRESERVED.test(char) ? char : triplet.toUpperCase();
  });
}

/**
 * A redirect hook for `HttpClient.get` that throws (non-retryable `http_error`) at a hop that
 * leaves `root`. `where` names the request in the message; `what` says what was being read.
 */
export function withinDirectory(root: URL, where: string, what: string): (url: URL) => void {
  return (url) => {
    if (isWithinDirectory(url, root)) return;
    throw new SyncError(
      "http_error",
      `${where}: refused redirect to ${redactUrl(url.href)}: ${what} is read only from within the directory (${redactUrl(root.href)}); sync that URL instead`,
    );
  };
}
