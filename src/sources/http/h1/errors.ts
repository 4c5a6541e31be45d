/**
 * The errors of the HTTP/1.1 client. Each carries a `code` that `../errors.ts` classifies as it
 * does undici's: the timeouts as undici's timeouts, a cut connection as a network error, oversized
 * headers as permanent. Errors of the socket itself (ECONNREFUSED, ECONNRESET, TLS certificate
 * codes) are passed on as Node raised them.
 */

export type H1ErrorCode =
  /** No connection (TCP and TLS handshake) within the timeout. */
  | "H1_CONNECT_TIMEOUT"
  /** The request was sent and no complete response head came within the timeout. */
  | "H1_HEADERS_TIMEOUT"
  /** Reading a body, no byte came within the timeout (time the body was held paused excluded). */
  | "H1_BODY_TIMEOUT"
  /** A response head larger than the limit. */
  | "H1_HEADERS_OVERFLOW"
  /** The connection closed or was cut before the response was complete. */
  | "H1_SOCKET"
  /** A response that is not valid HTTP/1.x, or whose framing is invalid or ambiguous. */
  | "H1_INVALID_RESPONSE"
  /** A request that cannot be sent as asked (a header value with a line break, a bad URL). */
  | "H1_INVALID_ARG";

export class H1Error extends Error {
  readonly code: H1ErrorCode;
  /** Set on a connection closed before any byte of its response: a reused one may be retried. */
  readonly beforeResponse: boolean;

  constructor(code: H1ErrorCode, message: string, options: { beforeResponse?: boolean } = {}) {
    super(message);
    this.name = "H1Error";
    this.code = code;
    this.beforeResponse = options.beforeResponse ?? false;
  }
}

export function invalidResponse(why: string): H1Error {
  return new H1Error("H1_INVALID_RESPONSE", `invalid response: ${why}`);
}
