/**
 * Which source a marker or a part record belongs to. Records name their source redacted (state
 * files hold no credentials), but a redacted name alone made two sources one: `?key=A` and
 * `?key=B` fetched to one destination shared a marker, and the second was asked with the first's
 * validators — a server that sent only Last-Modified answered 304 and the first's data stayed,
 * reported unchanged. Where redaction hides a value that may choose the resource, a digest of the
 * address is added. Only values that never choose it are left out: the URL's userinfo, its
 * fragment, and the signing parameters of Amazon S3 and Google Cloud Storage signed URLs
 * (`X-Amz-*`, `X-Goog-*`), so that a URL signed anew for the same object is the same source and
 * is asked conditionally, as before.
 */
import { hash } from "node:crypto";
import { redactParsedUrl } from "../log/redact.js";

const SIGNING_PARAMETER = /^x-(amz|goog)-/i;

/**
 * The identity of `source` in state records: its `display` (redacted) name where that hides
 * nothing that may choose the resource (every local file; most URLs), else that name followed by
 * a 128-bit SHA-256 digest of its address without userinfo, fragment and signing parameters.
 * The digest is no credential, but a guessable secret could be tried against it: records stay
 * in the user's lock dir.
 */
export function sourceIdentity(source: { href: string; display: string }): string {
  if (source.href === source.display) return source.display;
  let url: URL;
  try {
    url = new URL(source.href);
  } catch {
    return source.display;
  }
  url.username = "";
  url.password = "";
  url.hash = "";
  const params = [...url.searchParams];
  const kept = params.filter(([name]) => !SIGNING_PARAMETER.test(name));
  if (kept.length !== params.length) url.search = new URLSearchParams(kept).toString();
  if (redactParsedUrl(url, url.href) === url.href) return source.display;
  return `${source.display} ${hash("sha256", url.href, "hex").slice(0, 32)}`;
}
