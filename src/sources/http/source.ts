/** One http(s) URL as a `Source`: conditional and ranged GETs, and every failure classified. */
import type { Dispatcher } from "undici";
import { errorCodeOf, SyncError } from "../../errors.js";
import { redactUrl } from "../../log/redact.js";
import { parseRetryAfter } from "../../policies/backoff.js";
import { originOf } from "../location.js";
import type {
  OpenRequest,
  OpenResult,
  RangeAnswer,
  RangeRequest,
  Source,
  Validators,
} from "../source.js";
import type { HttpClient } from "./client.js";
import {
  conditionalHeaders,
  discard,
  numberHeader,
  parseContentRange,
  statedDigests,
  validatorsOf,
} from "./headers.js";
import { type ProxyInUse, proxyFailure } from "./proxy-errors.js";

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
export class HttpSource implements Source {
  readonly #url: string;
  readonly #client: HttpClient;
  #servedBy: string | undefined;
  /** The URL of the last request's last hop: after a redirect, the one that answered (or failed). */
  #lastUrl: string | undefined;
  readonly #hop = (url: URL) => {
    this.#servedBy = originOf(url);
    this.#lastUrl = url.href;
  };

  servedBy(): string | undefined {
    return this.#servedBy;
  }

  constructor(url: string, client: HttpClient) {
    this.#url = url;
    this.#client = client;
  }

  async check(
    unchangedIf: Validators | undefined,
    signal: AbortSignal,
  ): Promise<"unchanged" | "changed"> {
    let response: Dispatcher.ResponseData;
    try {
      ({ response } = await this.#client.get(
        this.#url,
        conditionalHeaders(unchangedIf),
        signal,
        "HEAD",
        this.#hop,
      ));
    } catch (error) {
      throw this.describeError(error);
    }
    await discard(response.body);
    if (response.statusCode === 304 && unchangedIf) return "unchanged";
    if (response.statusCode >= 200 && response.statusCode < 300) return "changed";
    throw this.#statusError(response.statusCode, response.headers);
  }

  async open(request: OpenRequest): Promise<OpenResult> {
    const unchanged = request.unchangedIf;
    const headers = conditionalHeaders(unchanged);
    // If-Range takes a strong ETag or a date; a weak ETag would make every resume start over.
    const strongEtag = request.resumeIf?.etag?.startsWith("W/")
      ? undefined
      : request.resumeIf?.etag;
    const resumeValidator = strongEtag ?? request.resumeIf?.lastModified;
    const ranged = request.offset > 0 && resumeValidator !== undefined;
    if (ranged) {
      headers.range = `bytes=${request.offset}-`;
      headers["if-range"] = resumeValidator;
    }

    let response: Dispatcher.ResponseData;
    try {
      ({ response } = await this.#client.get(this.#url, headers, request.signal, "GET", this.#hop));
    } catch (error) {
      throw this.describeError(error);
    }
    const status = response.statusCode;
    const validators = validatorsOf(response.headers);
    const length = numberHeader(response.headers["content-length"]);

    if (status === 200) {
      return {
        kind: "body",
        body: response.body,
        offset: 0,
        length,
        validators,
        stated: statedDigests(response.headers, true),
        ...(acceptsByteRanges(response.headers["accept-ranges"]) ? { acceptsRanges: true } : {}),
      };
    }
    if (status === 206 && ranged) {
      const range = parseContentRange(response.headers["content-range"]);
      if (
        !range ||
        range.start !== request.offset ||
        (length !== undefined && length !== range.end - range.start + 1)
      ) {
        await discard(response.body);
        throw new SyncError(
          "http_error",
          `${this.#display()}: 206 with a Content-Range that does not match the request`,
          {
            status,
            retryable: true,
            discardPartial: true,
          },
        );
      }
      return {
        kind: "body",
        body: response.body,
        offset: range.start,
        length: range.end - range.start + 1,
        validators: { ...validators, ...(range.total === undefined ? {} : { size: range.total }) },
        // Content-Digest and Content-MD5 describe this part only; Repr-Digest the whole file.
        stated: statedDigests(response.headers, false),
      };
    }
    await discard(response.body);
    if (status === 304 && unchanged) return { kind: "not-modified" };
    if (status === 416 && ranged) {
      throw new SyncError(
        "http_error",
        `${this.#display()}: range not satisfiable; restarting from zero`,
        {
          status,
          retryable: true,
          discardPartial: true,
        },
      );
    }
    throw this.#statusError(status, response.headers);
  }

  async openRange(request: RangeRequest): Promise<RangeAnswer> {
    const { start, end, version } = request;
    const headers = conditionalHeaders(undefined);
    // If-Range takes a strong ETag or a date: the server sends the span only for that version.
    const strongEtag = version.etag?.startsWith("W/") ? undefined : version.etag;
    const validator = strongEtag ?? version.lastModified;
    if (validator === undefined || end <= start)
      throw new SyncError("invalid_source", `${this.#display()}: no strong validator for a range`);
    headers.range = `bytes=${start}-${end - 1}`;
    headers["if-range"] = validator;
    let response: Dispatcher.ResponseData;
    try {
      ({ response } = await this.#client.get(this.#url, headers, request.signal, "GET", this.#hop));
    } catch (error) {
      throw this.describeError(error);
    }
    const status = response.statusCode;
    const validators = validatorsOf(response.headers);
    if (status === 206) {
      const range = parseContentRange(response.headers["content-range"]);
      const length = numberHeader(response.headers["content-length"]);
      if (
        !range ||
        range.start !== start ||
        range.end !== end - 1 ||
        (length !== undefined && length !== end - start)
      ) {
        await discard(response.body);
        throw new SyncError(
          "http_error",
          `${this.#display()}: 206 with a Content-Range that does not match the request`,
          { status, retryable: true, discardPartial: true },
        );
      }
      return {
        kind: "range",
        body: response.body,
        validators,
        total: range.total,
        stated: statedDigests(response.headers, false),
      };
    }
    await discard(response.body);
    if (status === 200) return { kind: "whole", validators };
    if (status === 416) {
      throw new SyncError("http_error", `${this.#display()}: range not satisfiable`, {
        status,
        retryable: true,
        discardPartial: true,
      });
    }
    throw this.#statusError(status, response.headers);
  }

  #statusError(status: number, headers: Dispatcher.ResponseData["headers"]): SyncError {
    return httpStatusError(status, headers, this.#display(), this.#client.now());
  }

  describeError(error: unknown): SyncError {
    const where = this.#display();
    const proxy = this.#client.proxyFor(this.#lastUrl ?? this.#url);
    return describeHttpError(error, where, proxy);
  }

  /** The URL for messages: after a redirect, the one that answered, and where it came from. */
  #display(): string {
    const first = redactUrl(this.#url);
    const last = this.#lastUrl === undefined ? first : redactUrl(this.#lastUrl);
    return last === first ? first : `${last} (redirected from ${first})`;
  }
}

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

/** `Accept-Ranges: bytes` (a list, case-insensitive); `none` or absent: no. */
function acceptsByteRanges(value: string | string[] | undefined): boolean {
  const text = Array.isArray(value) ? value.join(",") : (value ?? "");
  return text.split(",").some((unit) => unit.trim().toLowerCase() === "bytes");
}

function timeoutWhat(code: string): string {
  if (code === "UND_ERR_CONNECT_TIMEOUT") return "connect timed out";
  if (code === "UND_ERR_HEADERS_TIMEOUT") return "no response headers in time";
  return "transfer stalled";
}

/**
 * The failure an HTTP status means, for messages about `where`: 404 and 410 are `not_found`;
 * 408, 425, 429 and 5xx are retryable `http_error`s (with `Retry-After` read against `nowMs`, and
 * 429 or a 503 with `Retry-After` marked throttled: "slow down", not "down"); others permanent.
 */
export function httpStatusError(
  status: number,
  headers: Dispatcher.ResponseData["headers"],
  where: string,
  nowMs: number,
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
    // A gateway (a proxy, a load balancer) that could not reach the origin behind it.
    ...(status === 502 || status === 504 ? { unreachable: true } : {}),
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
  if (
    code === "UND_ERR_CONNECT_TIMEOUT" ||
    code === "UND_ERR_HEADERS_TIMEOUT" ||
    code === "UND_ERR_BODY_TIMEOUT"
  ) {
    return new SyncError("timeout", `${where}: ${timeoutWhat(code)} (${code})`, {
      cause: error,
      retryable: true,
      ...(code === "UND_ERR_CONNECT_TIMEOUT" ? { unreachable: true } : {}),
    });
  }
  if (code === "UND_ERR_HEADERS_OVERFLOW") {
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
  if (code === "UND_ERR_INVALID_ARG" || code === "ERR_INVALID_URL") {
    return new SyncError("invalid_source", `${where}: ${code}`, { cause: error });
  }
  return new SyncError("network", `${where}: ${code}`, {
    cause: error,
    retryable: true,
    ...(UNREACHABLE_CODES.has(code) ? { unreachable: true } : {}),
  });
}
