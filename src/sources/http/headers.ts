/** Reading and writing the HTTP headers resilient-sync cares about: validators, ranges, digests, credentials. */
import type { Readable } from "node:stream";
import type { ChecksumAlgorithm } from "../../checksums/digest.js";
import type { StatedDigest, Validators } from "../source.js";

/** Response headers: lower-case names, a repeated field as an array of its values. */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

export function conditionalHeaders(unchanged: Validators | undefined): Record<string, string> {
  const headers: Record<string, string> = { "accept-encoding": "identity" };
  if (unchanged?.etag) headers["if-none-match"] = unchanged.etag;
  if (unchanged?.lastModified) headers["if-modified-since"] = unchanged.lastModified;
  return headers;
}

const RFC9530_ALGORITHMS: Record<string, ChecksumAlgorithm> = {
  "sha-256": "sha256",
  "sha-512": "sha512",
};

/**
 * The digests of the whole file a response states: `Repr-Digest` always; `Content-Digest` and
 * `Content-MD5` only when the body is the whole file (`whole`). Unknown algorithms are ignored.
 */
export function statedDigests(headers: ResponseHeaders, whole: boolean): StatedDigest[] {
  const stated: StatedDigest[] = [];
  for (const name of whole ? ["repr-digest", "content-digest"] : ["repr-digest"]) {
    for (const [key, bytes] of parseDigestDictionary(headers[name])) {
      const algorithm = RFC9530_ALGORITHMS[key];
      if (algorithm) stated.push({ algorithm, hex: bytes.toString("hex"), header: name });
    }
  }
  const md5 = whole ? allValues(headers["content-md5"]) : undefined;
  if (md5 && /^[A-Za-z0-9+/]{22}==$/.test(md5.trim())) {
    stated.push({
      algorithm: "md5",
      hex: Buffer.from(md5.trim(), "base64").toString("hex"),
      header: "content-md5",
    });
  }
  return stated;
}

/**
 * An RFC 8941 dictionary of byte sequences (`sha-256=:BASE64:;param, sha-512=:…:`), as RFC 9530
 * digest fields are: repeated header lines are one list, parameters are ignored, and members that
 * are not byte sequences are skipped. Byte sequences never hold a comma, so members split on it.
 */
export function parseDigestDictionary(
  value: string | string[] | undefined,
): Array<[string, Buffer]> {
  const members: Array<[string, Buffer]> = [];
  for (const member of (allValues(value) ?? "").split(",")) {
    const match = /^\s*([a-z*][a-z0-9_.*-]*)\s*=\s*:([A-Za-z0-9+/]*={0,2}):\s*(?:;.*)?$/.exec(
      member,
    );
    if (match) members.push([match[1] as string, Buffer.from(match[2] as string, "base64")]);
  }
  return members;
}

/** A header's value with repeated lines joined, as HTTP says they combine. */
function allValues(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(", ") : value;
}

/** Credentials in the URL become a Basic `Authorization` header, as curl and wget do. */
export function basicAuthorization(url: URL): Record<string, string> {
  if (url.username === "" && url.password === "") return {};
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` };
}

/** Throws a response body away without letting its late errors crash anything. */
export async function discard(
  body: Readable & { dump?: (opts?: { limit: number }) => Promise<void> },
): Promise<void> {
  try {
    if (body.dump) await body.dump({ limit: 64 * 1024 });
    else {
      body.on("error", () => {});
      body.destroy();
    }
  } catch {
    // The response is being thrown away: its errors do not matter.
  }
}

/** Drops a response's body (`discard`); a response that has none (`bodiless`) costs nothing. */
export async function discardBody(response: {
  bodiless?: boolean;
  body: Parameters<typeof discard>[0];
}): Promise<void> {
  if (!response.bodiless) await discard(response.body);
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export function numberHeader(value: string | string[] | undefined): number | undefined {
  const text = header(value);
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

/**
 * The validators an answer names its version by: its ETag, and its Last-Modified date when that
 * date is strong. RFC 9110 §8.8.2.2: a date is a strong validator only when the answer's `Date`
 * is at least one second later. Servers compare dates in whole seconds, so a file changed again
 * within the second it was fetched in would be answered 304 for ever (python's http.server,
 * lighttpd: no ETag). Without a strong date the next run fetches the body and compares it. An
 * answer without a usable `Date` is dated `receivedAtMs`, the time it arrived (RFC 9110 §6.6.1).
 */
export function validatorsOf(headers: ResponseHeaders, receivedAtMs: number): Validators {
  const etag = header(headers.etag);
  const lastModified = strongDate(
    header(headers["last-modified"]),
    header(headers.date),
    receivedAtMs,
  );
  const encoding = header(headers["content-encoding"])?.trim().toLowerCase();
  return {
    ...(etag ? { etag } : {}),
    ...(lastModified ? { lastModified } : {}),
    ...(encoding && encoding !== "identity" ? { encoding } : {}),
  };
}

function strongDate(
  lastModified: string | undefined,
  date: string | undefined,
  receivedAtMs: number,
): string | undefined {
  if (!lastModified) return undefined;
  const modifiedMs = Date.parse(lastModified);
  const dated = date === undefined ? Number.NaN : Date.parse(date);
  const answeredMs = Number.isNaN(dated) ? receivedAtMs : dated;
  return answeredMs - modifiedMs >= 1000 ? lastModified : undefined;
}

/** `bytes START-END/TOTAL` (TOTAL may be `*`); undefined when malformed. */
export function parseContentRange(
  value: string | string[] | undefined,
): { start: number; end: number; total: number | undefined } | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header(value)?.trim() ?? "");
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  const total = match[3] === "*" ? undefined : Number(match[3]);
  if (end < start || (total !== undefined && end >= total)) return undefined;
  return { start, end, total };
}
