/**
 * What a proxy's refusal means, said plainly. undici reports a proxy's 407 to a plain http request
 * as an `InvalidArgumentError`, and any non-200 answer to CONNECT as a `RequestAbortedError`; left
 * alone they read `UND_ERR_INVALID_ARG` (an "invalid source") and `UND_ERR_ABORTED` (a network
 * error, retried as if the proxy might change its mind). Their messages are the only place the
 * status is given, so they are matched here; the squid and tinyproxy tests pin that text.
 */
import { SyncError } from "../../errors.js";
import { redactUrl } from "../../log/redact.js";

/** The proxy a request went through, for messages: its URL and the option or variable it came from. */
export interface ProxyInUse {
  url: string;
  /** `--proxy`, `http_proxy`, `https_proxy`, `all_proxy` … */
  source: string | undefined;
  /** It is sent the `Proxy-Authorization` header given with `--header` (its URL has no login). */
  headerLogin?: boolean;
}

const PROXY_AUTH = /^Proxy Authentication Required \(407\)$/;
const TUNNEL_REFUSED = /^Proxy response \((\d{3})\) !== 200 when HTTP Tunneling$/;

/**
 * The `SyncError` for `error` when it is a proxy's refusal (a 407 to a request, or a CONNECT not
 * answered 200), else `undefined`. `where` names the source. The proxy's URL is shown redacted.
 * A 407 is not retried (the same credentials get the same answer), nor is a CONNECT refused with
 * a 4xx (the proxy's rules); a 5xx from the proxy (it could not reach the origin) is.
 */
export function proxyFailure(
  error: unknown,
  where: string,
  proxy: ProxyInUse | undefined,
): SyncError | undefined {
  if (!(error instanceof Error)) return undefined;
  const tunnel = TUNNEL_REFUSED.exec(error.message);
  const status = PROXY_AUTH.test(error.message) ? 407 : Number(tunnel?.[1] ?? Number.NaN);
  if (Number.isNaN(status)) return undefined;
  const named = proxyName(proxy);
  if (status === 407) {
    const given = proxy !== undefined && hasCredentials(proxy.url);
    const what = given
      ? "it refused the credentials given in the proxy URL"
      : proxy?.headerLogin
        ? "it refused the Proxy-Authorization header given with --header"
        : "it asked for credentials: give them in the proxy URL (http://user:password@host:port)";
    return new SyncError(
      "http_error",
      `${where}: proxy authentication required by ${named}: ${what} (HTTP 407)`,
      { status, cause: error },
    );
  }
  return new SyncError(
    "http_error",
    `${where}: ${named} refused the tunnel (CONNECT answered HTTP ${status})`,
    { status, cause: error, retryable: status >= 500 },
  );
}

/** "the proxy URL (from http_proxy)", its URL redacted, for messages. */
export function proxyName(proxy: ProxyInUse | undefined): string {
  return proxy
    ? `the proxy ${redactUrl(proxy.url)}${proxy.source ? ` (from ${proxy.source})` : ""}`
    : "the proxy";
}

/**
 * `error`, a failure of the CONNECT that opens a tunnel through a proxy (undici's own request to
 * the proxy), marked so that `tunnelFailure` can name the proxy: undici passes it on as the
 * request's failure, where it read as the origin's ("no response headers in time").
 */
export function markTunnelFailure(error: unknown): unknown {
  if (error instanceof Error) Object.assign(error, { proxyTunnel: true });
  return error;
}

/**
 * The `SyncError` of a tunnel that failed before it was open (marked by `markTunnelFailure`),
 * else `undefined`: retried, named, and not held against the origin, which was never reached.
 */
export function tunnelFailure(
  error: unknown,
  where: string,
  proxy: ProxyInUse | undefined,
  code: string,
): SyncError | undefined {
  if (!isTunnelFailure(error)) return undefined;
  const timedOut = code === "UND_ERR_HEADERS_TIMEOUT";
  const what = timedOut
    ? "did not answer the tunnel request (CONNECT) in time"
    : "failed the tunnel request (CONNECT)";
  return new SyncError(
    timedOut ? "timeout" : "network",
    `${where}: ${proxyName(proxy)} ${what} (${code})`,
    {
      cause: error,
      retryable: true,
      unreachable: true,
      atProxy: true,
    },
  );
}

/** Whether `error` was marked by `markTunnelFailure`: it came from the proxy's own connection. */
export function isTunnelFailure(error: unknown): boolean {
  return error instanceof Error && (error as { proxyTunnel?: boolean }).proxyTunnel === true;
}

/** Whether a proxy URL carries a user or a password. */
export function hasCredentials(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.username !== "" || parsed.password !== "";
  } catch {
    return false;
  }
}
