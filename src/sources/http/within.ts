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
  return url.origin === root.origin && url.pathname.startsWith(root.pathname);
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
