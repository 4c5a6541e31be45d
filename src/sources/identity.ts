/**
 * Which source a marker or a part record belongs to. Records name their source redacted (state
 * files hold no credentials), but a redacted name alone made two sources one: `?key=A` and
 * `?key=B` fetched to one destination shared a marker, and the second was asked with the first's
 * validators — a server that sent only Last-Modified answered 304 and the first's data stayed,
 * reported unchanged. The logs' redaction is broad on purpose (`key`, `author`, `design` …);
 * where it hides a value that may choose the resource, a digest of the address is added. Values
 * that are credentials only are left out of it — the URL's userinfo and fragment, and parameters
 * named as tokens, signatures, sessions, passwords, secrets, API or access keys, and the signing
 * parameters of S3, GCS and CloudFront URLs — so a URL whose token was refreshed, or signed anew
 * for the same object, stays the same source: asked conditionally, and resumed.
 */
import { hash } from "node:crypto";
import { redactParsedUrl } from "../log/redact.js";

/** Parameter names that carry a credential and never choose the resource. */
const CREDENTIAL_ONLY =
  /^x-(amz|goog)-|token|^sig$|signature|^key-pair-id$|googleaccessid|awsaccesskeyid|jwt|session|passw(or)?d|^pwd$|secret|^auth$|^authorization$|credential|api[-_]?key|access[-_]?key|_key$/i;

/**
 * The identity of `source` in state records: its `display` (redacted) name where that hides
 * nothing that may choose the resource (every local file; most URLs), else that name followed by
 * a 128-bit SHA-256 digest of its address without userinfo, fragment and credential parameters.
 * What the digest covers is no credential (a guessable value could be tried against it, and then
 * told: an object key, an author's name).
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
  const kept = params.filter(([name]) => !CREDENTIAL_ONLY.test(name));
  if (kept.length !== params.length) url.search = new URLSearchParams(kept).toString();
  if (redactParsedUrl(url, url.href) === url.href) return source.display;
  return `${source.display} ${hash("sha256", url.href, "hex").slice(0, 32)}`;
}
