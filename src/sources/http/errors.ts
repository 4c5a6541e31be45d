/**
 * HTTP failures as `SyncError`s: statuses (404/410 not found; 408, 425, 429 and 5xx retryable;
 * 429 and a 503 with `Retry-After` "slow down"; 502/504 a gateway that cannot reach the origin)
 * and the clients' errors (undici's and h1/errors.ts's: timeouts, refused certificates,
 * connections that could not be made).
 * Shared by transfers and by the requests that read directory indexes.
 */
import { errorCodeOf, SyncError } from "../../errors.js";
import { parseRetryAfter } from "../../policies/backoff.js";
import type { ResponseHeaders } from "./headers.js";
import {
  isTunnelFailure,
  type ProxyInUse,
  proxyFailure,
  proxyName,
  tunnelFailure,
} from "./proxy-errors.js";

const RETRYABLE_STATUSES = new Set([408, 425, 429]);
/** A certificate that fails verification will fail again: no retry, no circuit count. */
const PERMANENT_TLS_CODES = new Set([
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "CERT_REVOKED",
]);
/** Connect-time failures: no connection to the origin could be made. */
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENETDOWN",
  "ETIMEDOUT",
  "EAI_AGAIN",
]);

/** Timeouts, undici's and our HTTP/1.1 client's (h1/errors.ts), and what each means. */
const TIMEOUT_CODES: Record<string, "connect" | "headers" | "body"> = {
  UND_ERR_CONNECT_TIMEOUT: "connect",
  H1_CONNECT_TIMEOUT: "connect",
  UND_ERR_HEADERS_TIMEOUT: "headers",
  H1_HEADERS_TIMEOUT: "headers",
  UND_ERR_BODY_TIMEOUT: "body",
  H1_BODY_TIMEOUT: "body",
};
const TIMEOUT_WHAT = {
  connect: "connect timed out",
  headers: "no response headers in time",
  body: "transfer stalled",
};
const HEADERS_OVERFLOW_CODES = new Set(["UND_ERR_HEADERS_OVERFLOW", "H1_HEADERS_OVERFLOW"]);
/** A request that cannot be made as given. */
const INVALID_REQUEST_CODES = new Set(["UND_ERR_INVALID_ARG", "H1_INVALID_ARG", "ERR_INVALID_URL"]);

/**
 * The failure an HTTP status means, for messages about `where`: 404 and 410 are `not_found`;
 * 408, 425, 429 and 5xx are retryable `http_error`s (with `Retry-After` read against `nowMs`, and
 * 429 or a 503 with `Retry-After` marked throttled: "slow down", not "down"); others permanent.
 * A 502 or 504 from a proxy we go through (`viaProxy`) is marked `unreachable`: the proxy could
 * not reach the origin, an outage as surely as a failed connect. From the origin's own front (a
 * load balancer, a reverse proxy) it is an answer about that URL, counted like any 5xx: one URL
 * whose backend is broken must not be retried for the whole --retry-max-time.
 */
export function httpStatusError(
  status: number,
  headers: ResponseHeaders,
  where: string,
  nowMs: number,
  viaProxy = false,
): SyncError {
  if (status === 404 || status === 410) {
    return new SyncError("not_found", `${where}: HTTP ${status}`, { status });
  }
  const retryable = status >= 500 || RETRYABLE_STATUSES.has(status);
  const retryAfter = headers["retry-after"];
  const retryAfterMs = retryable
    ? parseRetryAfter(typeof retryAfter === "string" ? retryAfter : undefined, nowMs)
    : undefined;
  // "Slow down", not "down": a 429, or a 503 that says when to come back.
  const throttled = status === 429 || (status === 503 && retryAfterMs !== undefined);
  return new SyncError("http_error", `${where}: HTTP ${status}`, {
    status,
    retryable,
    ...(viaProxy && (status === 502 || status === 504) ? { unreachable: true } : {}),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(throttled ? { throttled } : {}),
  });
}

/**
 * A failed request (undici's errors, a refused redirect) as a `SyncError` about `where` (a
 * redacted URL): timeouts and connection errors retryable, a refused certificate or oversized
 * headers permanent. A `SyncError` is returned as it is.
 */
export function describeHttpError(
  error: unknown,
  where: string,
  proxy?: ProxyInUse | undefined,
): SyncError {
  if (error instanceof SyncError) return error;
  const refused = proxyFailure(error, where, proxy);
  if (refused) return refused;
  const code = errorCodeOf(error) ?? (error instanceof Error ? error.name : "unknown");
  // The proxy pool's own connection failing before any CONNECT was sent: the proxy cannot be
  // reached, or its certificate is refused. Said as the proxy's, never the origin's.
  if (isTunnelFailure(error) && proxy !== undefined) {
    if (UNREACHABLE_CODES.has(code) || TIMEOUT_CODES[code] === "connect")
      return proxyUnreachable(where, proxy, code, error);
    if (PERMANENT_TLS_CODES.has(code))
      return new SyncError(
        "network",
        `${where}: TLS certificate of ${proxyName(proxy)} refused (${code})`,
        { cause: error, atProxy: true },
      );
  }
  const tunnel = tunnelFailure(error, where, proxy, code);
  if (tunnel) return tunnel;
  const timeout = TIMEOUT_CODES[code];
  // Through a proxy, the socket is the proxy's: failing to open it is the proxy's fault. Not a
  // connect timeout, though: through a tunnel it also covers the TLS handshake with the origin.
  const atProxy = proxy !== undefined;
  if (timeout) {
    return new SyncError("timeout", `${where}: ${TIMEOUT_WHAT[timeout]} (${code})`, {
      cause: error,
      retryable: true,
      ...(timeout === "connect" ? { unreachable: true } : {}),
    });
  }
  if (HEADERS_OVERFLOW_CODES.has(code)) {
    // The same server will send the same headers again.
    return new SyncError("http_error", `${where}: response headers too large (${code})`, {
      cause: error,
    });
  }
  if (PERMANENT_TLS_CODES.has(code)) {
    return new SyncError("network", `${where}: TLS certificate refused (${code})`, {
      cause: error,
    });
  }
  if (code === "H1_INVALID_RESPONSE") {
    // Framing that is not what it claims (a chunk longer than its size, say): the bytes this
    // answer delivered before it was caught cannot be trusted, so none of them is kept.
    return new SyncError("network", `${where}: ${(error as Error).message} (${code})`, {
      cause: error,
      retryable: true,
      discardPartial: true,
    });
  }
  if (INVALID_REQUEST_CODES.has(code)) {
    return new SyncError("invalid_source", `${where}: ${code}`, { cause: error });
  }
  if (UNREACHABLE_CODES.has(code) && atProxy) return proxyUnreachable(where, proxy, code, error);
  return new SyncError("network", `${where}: ${code}`, {
    cause: error,
    retryable: true,
    ...(UNREACHABLE_CODES.has(code) ? { unreachable: true } : {}),
  });
}

/** No connection to the proxy could be made: retried, named, and not held against the origin. */
function proxyUnreachable(
  where: string,
  proxy: ProxyInUse,
  code: string,
  cause: unknown,
): SyncError {
  return new SyncError("network", `${where}: cannot reach ${proxyName(proxy)} (${code})`, {
    cause,
    retryable: true,
    unreachable: true,
    atProxy: true,
  });
}
