/**
 * http(s) sources over undici: one connection pool (Agent) per run with keep-alive, conditional
 * requests, ranged resume guarded by `If-Range`, redirects followed by hand so that only
 * http(s) → http(s) is allowed, and every failure classified (status, error code, retryable).
 */
import type { Readable } from "node:stream";
import type { Agent, Dispatcher } from "undici";
import type { ChecksumAlgorithm } from "../checksums/digest.js";
import { errorCodeOf, SyncError } from "../errors.js";
import { redactUrl } from "../log/redact.js";
import { parseRetryAfter } from "../policies/backoff.js";
import { originOf } from "./location.js";
import type { OpenRequest, OpenResult, Source, StatedDigest, Validators } from "./source.js";

export const MAX_REDIRECTS = 10;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
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
/** Headers that must not follow a redirect to another origin (as curl does without --location-trusted). */
const CREDENTIAL_HEADERS = ["authorization", "cookie", "proxy-authorization"];

export interface HttpClientOptions {
  /** Connect, response-headers and body-stall timeout of one request. */
  timeoutMs: number;
  /** Extra request headers, lower-case names. */
  headers: Record<string, string>;
  userAgent: string;
  now: () => number;
}

/** One run's HTTP client: creates sources that share its connection pool. Close it when done. */
export class HttpClient {
  readonly #agent: Agent;
  readonly #request: typeof import("undici").request;
  readonly #options: HttpClientOptions;

  private constructor(undici: typeof import("undici"), options: HttpClientOptions) {
    this.#options = options;
    this.#request = undici.request;
    this.#agent = new undici.Agent({
      connect: { timeout: options.timeoutMs },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      keepAliveTimeout: 10_000,
      connections: 16,
    });
  }

  /** Loads undici lazily: runs without an http source (and `--version`) never pay for it. */
  static async create(options: HttpClientOptions): Promise<HttpClient> {
    return new HttpClient(await import("undici"), options);
  }

  source(url: string): Source {
    return new HttpSource(url, this);
  }

  async close(): Promise<void> {
    await this.#agent.destroy();
  }

  /** One GET (or HEAD), redirects followed; returns the final response with its body unread. */
  async get(
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal,
    method: "GET" | "HEAD" = "GET",
    onHop: (url: URL) => void = () => {},
  ): Promise<{ response: Dispatcher.ResponseData; url: URL }> {
    let current = new URL(url);
    let sent: Record<string, string> = {
      "user-agent": this.#options.userAgent,
      ...basicAuthorization(current),
      ...this.#options.headers,
      ...headers,
    };
    current.username = "";
    current.password = "";
    for (let hop = 0; ; hop += 1) {
      onHop(current);
      const response = await this.#request(current, {
        method,
        headers: sent,
        dispatcher: this.#agent,
        signal,
        headersTimeout: this.#options.timeoutMs,
        bodyTimeout: this.#options.timeoutMs,
      });
      const location = response.headers.location;
      if (!REDIRECT_STATUSES.has(response.statusCode) || typeof location !== "string") {
        return { response, url: current };
      }
      await discard(response.body);
      if (hop >= MAX_REDIRECTS) {
        throw new SyncError(
          "http_error",
          `more than ${MAX_REDIRECTS} redirects from ${redactUrl(url)}`,
          {
            status: response.statusCode,
          },
        );
      }
      let next: URL;
      try {
        next = new URL(location, current);
      } catch {
        throw new SyncError(
          "http_error",
          `redirect to a malformed location from ${redactUrl(current.href)}`,
          {
            status: response.statusCode,
          },
        );
      }
      if (next.protocol !== "http:" && next.protocol !== "https:") {
        throw new SyncError(
          "http_error",
          `refused redirect to ${next.protocol.slice(0, -1)}: only http(s) to http(s) is followed (from ${redactUrl(current.href)})`,
          { status: response.statusCode },
        );
      }
      if (next.origin !== current.origin) {
        // Credentials and every --header value stay with the origin they were given for.
        const userHeaders = Object.keys(this.#options.headers);
        sent = Object.fromEntries(
          Object.entries(sent).filter(
            ([name]) => !CREDENTIAL_HEADERS.includes(name) && !userHeaders.includes(name),
          ),
        );
      }
      current = next;
    }
  }

  now(): number {
    return this.#options.now();
  }
}

class HttpSource implements Source {
  readonly #url: string;
  readonly #client: HttpClient;
  #servedBy: string | undefined;
  readonly #hop = (url: URL) => {
    this.#servedBy = originOf(url);
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
    how: "bodyless" | "cheap" = "bodyless",
  ): Promise<"unchanged" | "changed"> {
    let response: Dispatcher.ResponseData;
    // `cheap` asks with a conditional GET, not HEAD: undici closes the connection after every
    // HEAD, and the 304 expected carries no body anyway. Without validators, always HEAD.
    const method = how === "cheap" && unchangedIf ? "GET" : "HEAD";
    try {
      ({ response } = await this.#client.get(
        this.#url,
        conditionalHeaders(unchangedIf),
        signal,
        method,
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

  #statusError(status: number, headers: Dispatcher.ResponseData["headers"]): SyncError {
    const where = this.#display();
    if (status === 404 || status === 410) {
      return new SyncError("not_found", `${where}: HTTP ${status}`, { status });
    }
    const retryable = status >= 500 || RETRYABLE_STATUSES.has(status);
    const retryAfter = headers["retry-after"];
    const retryAfterMs = retryable
      ? parseRetryAfter(typeof retryAfter === "string" ? retryAfter : undefined, this.#client.now())
      : undefined;
    return new SyncError("http_error", `${where}: HTTP ${status}`, {
      status,
      retryable,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }

  describeError(error: unknown): SyncError {
    if (error instanceof SyncError) return error;
    const code = errorCodeOf(error) ?? (error instanceof Error ? error.name : "unknown");
    const where = this.#display();
    if (
      code === "UND_ERR_CONNECT_TIMEOUT" ||
      code === "UND_ERR_HEADERS_TIMEOUT" ||
      code === "UND_ERR_BODY_TIMEOUT"
    ) {
      return new SyncError("timeout", `${where}: ${timeoutWhat(code)} (${code})`, {
        cause: error,
        retryable: true,
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
    return new SyncError("network", `${where}: ${code}`, { cause: error, retryable: true });
  }

  #display(): string {
    return redactUrl(this.#url);
  }
}

function conditionalHeaders(unchanged: Validators | undefined): Record<string, string> {
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
export function statedDigests(
  headers: Dispatcher.ResponseData["headers"],
  whole: boolean,
): StatedDigest[] {
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
function basicAuthorization(url: URL): Record<string, string> {
  if (url.username === "" && url.password === "") return {};
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` };
}

function timeoutWhat(code: string): string {
  if (code === "UND_ERR_CONNECT_TIMEOUT") return "connect timed out";
  if (code === "UND_ERR_HEADERS_TIMEOUT") return "no response headers in time";
  return "transfer stalled";
}

async function discard(
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

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function numberHeader(value: string | string[] | undefined): number | undefined {
  const text = header(value);
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

function validatorsOf(headers: Dispatcher.ResponseData["headers"]): Validators {
  const etag = header(headers.etag);
  const lastModified = header(headers["last-modified"]);
  return { ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}) };
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
