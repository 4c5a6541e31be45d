/**
 * Which source a marker or a part record belongs to. Records name their source redacted (state
 * files hold no credentials), but a redacted name alone made two sources one: `?key=A` and
 * `?key=B` fetched to one destination shared a marker, and the second was asked with the first's
 * validators — a server that sent only Last-Modified answered 304 and the first's data stayed,
 * reported unchanged. The logs' redaction is broad on purpose (`key`, `author`, `design` …);
 * where it hides a value that may choose the resource, a digest of the address is added. Values
 * that are credentials only are left out of it — the URL's userinfo and fragment, parameters of
 * the names below (`token`, `access_token`, `sig`, `signature`, `api_key` …) and the signing
 * parameters of S3 and GCS URLs — so a URL whose token was refreshed, or an S3 or GCS URL signed
 * anew for the same object, stays the same source: asked conditionally, and resumed. (A signed
 * URL whose expiry is not redacted, CloudFront's `Expires` or Azure's `se`, was never the same
 * source from one signing to the next: its redacted name differs.)
 */
import { hash } from "node:crypto";
import { redactParsedUrl } from "../log/redact.js";

/**
 * Parameter names that carry a credential and never choose the resource: exact names (a pattern
 * took `object_key`, `cache_key` or `tokenizer` for credentials, and two objects for one), and
 * the S3 and GCS signing parameters.
 */
const CREDENTIAL_NAMES = new Set([
  "access_token",
  "accesstoken",
  "api_key",
  "api-key",
  "apikey",
  "auth",
  "auth_token",
  "authorization",
  "awsaccesskeyid",
  "client_secret",
  "googleaccessid",
  "id_token",
  "jwt",
  "key-pair-id",
  "oauth_token",
  "password",
  "passwd",
  "private_token",
  "pwd",
  "refresh_token",
  "secret",
  "security_token",
  "sig",
  "signature",
  "token",
  "x-api-key",
]);
const SIGNING_PREFIX = /^x-(amz|goog)-/i;

function isCredentialOnly(name: string): boolean {
  return CREDENTIAL_NAMES.has(name.toLowerCase()) || SIGNING_PREFIX.test(name);
}

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
  const kept = params.filter(([name]) => !isCredentialOnly(name));
  if (kept.length !== params.length) url.search = new URLSearchParams(kept).toString();
  if (redactParsedUrl(url, url.href) === url.href) return source.display;
  return `${source.display} ${hash("sha256", url.href, "hex").slice(0, 32)}`;
}
