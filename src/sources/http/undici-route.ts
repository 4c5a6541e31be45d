/**
 * The requests the HTTP/1.1 client does not send itself — those that go through a proxy — sent
 * with undici. This module (and undici with it) is loaded only when such a request is made: a
 * run without a proxy never loads undici.
 *
 * A direct agent and one proxy agent per scheme; which one a request takes is decided by
 * `goesThroughProxy` (proxy-route.ts), the rule the HTTP/1.1 client follows too, so the two never
 * disagree on no_proxy (undici's own `EnvHttpProxyAgent` reads no_proxy its own way: no CIDR, and
 * a bare `::1` taken for a host and a port). It reads no environment of its own. An https URL
 * with only an http proxy set goes direct, as in curl. Plain http goes to the proxy as an
 * absolute-URI request, as curl sends it (many proxies allow CONNECT to port 443 only); https is
 * tunnelled with CONNECT.
 */
import { isIP } from "node:net";
import { Agent, type Dispatcher, Pool, ProxyAgent, request } from "undici";
import { untilAborted } from "../../clock.js";
import { errorCodeOf } from "../../errors.js";
import type { NetworkSettings } from "../../options/network.js";
import { hasCredentials, markTunnelFailure } from "./proxy-errors.js";
import { goesThroughProxy } from "./proxy-route.js";

/** Loaded with undici: its bodies are read off at once (see eager-body.ts). */
export { eagerBody } from "./eager-body.js";

export class UndiciRoute {
  readonly #direct: Dispatcher;
  readonly #viaProxy: { http?: Dispatcher; https?: Dispatcher };
  readonly #proxies: { http: string; https: string };
  readonly #noProxy: string;
  readonly #timeoutMs: number;

  /**
   * `proxyAuthorization`: a `Proxy-Authorization` value given with `--header`, sent to every
   * proxy whose URL carries no user and password (on its requests and its CONNECTs).
   */
  constructor(
    timeoutMs: number,
    network: NetworkSettings | undefined,
    proxyAuthorization?: string,
  ) {
    this.#timeoutMs = timeoutMs;
    const tls = network?.tls ?? { rejectUnauthorized: true };
    const agentOptions = {
      connect: { timeout: timeoutMs, ...tls },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      keepAliveTimeout: 10_000,
      connections: 16,
    };
    const proxyAgent = (uri: string, scheme: "http" | "https") =>
      new ProxyAgent({
        ...agentOptions,
        uri,
        // The proxy URL's own login wins, as in curl (which sends no --header on CONNECT).
        ...(proxyAuthorization === undefined || hasCredentials(uri)
          ? {}
          : { token: proxyAuthorization }),
        proxyTunnel: scheme === "https",
        requestTls: { timeout: timeoutMs, ...tls },
        proxyTls: { timeout: timeoutMs, ...(network?.proxyTls ?? { rejectUnauthorized: true }) },
        // The pool that talks to the proxy itself: undici makes it with the connector alone, so
        // the answer to a CONNECT was awaited for its default 300 s whatever --timeout said.
        clientFactory: (origin: URL, options: Pool.Options) =>
          proxyPool(
            new Pool(origin, {
              ...options,
              connect: withoutIpServername(options.connect),
              headersTimeout: timeoutMs,
              bodyTimeout: timeoutMs,
            }),
          ),
      });
    this.#proxies = { http: network?.httpProxy ?? "", https: network?.httpsProxy ?? "" };
    this.#noProxy = network?.noProxy ?? "";
    this.#direct = new Agent(agentOptions);
    const { http, https } = this.#proxies;
    this.#viaProxy = {
      ...(http !== "" ? { http: proxyAgent(http, "http") } : {}),
      ...(https !== "" ? { https: proxyAgent(https, "https") } : {}),
    };
  }

  /** The dispatcher that sends `url`: its scheme's proxy agent unless no_proxy sends it direct. */
  #dispatcherFor(url: URL): Dispatcher {
    const scheme = url.protocol === "https:" ? "https" : "http";
    const agent = this.#viaProxy[scheme];
    if (agent === undefined || !goesThroughProxy(url, this.#proxies[scheme], this.#noProxy)) {
      return this.#direct;
    }
    return agent;
  }

  /**
   * One request. Settles when `init.signal` aborts, whatever undici is waiting for: a request
   * waiting on a tunnel's CONNECT is not told of its signal by undici (the tunnel is undici's
   * connection, not the request's), and a run stopped by a signal or its deadline waited there.
   */
  request(
    url: URL,
    init: { method: "GET" | "HEAD"; headers: Record<string, string>; signal: AbortSignal },
  ): Promise<Dispatcher.ResponseData> {
    const { signal } = init;
    const sent = request(url, {
      method: init.method,
      // A copy: undici's ProxyAgent writes `host` into the headers it is given, and the caller
      // sends the same object to the next hop of a redirect, which then asked the old host.
      headers: { ...init.headers },
      dispatcher: this.#dispatcherFor(url),
      signal,
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
    }).then((response) => {
      const { location } = response.headers;
      if (typeof location === "string") response.headers.location = asUtf8(location);
      return response;
    });
    // What undici answers after the abort is dropped: its body, if any, is let go.
    sent.then(
      (response) => {
        if (signal.aborted) response.body.destroy();
      },
      () => {},
    );
    return untilAborted(sent, signal);
  }

  async close(): Promise<void> {
    const { http, https } = this.#viaProxy;
    await Promise.all([this.#direct, http, https].map((agent) => agent?.destroy()));
  }
}

/**
 * `pool`, whose CONNECTs (the only requests undici sends it) fail marked as the proxy's. A proxy
 * that closes the connection without answering fails with undici's socket error, which undici
 * takes for one to reconnect after, at once and for ever (2,500 connections a second to a proxy
 * that reads CONNECT and hangs up, `--timeout` never reached): it is renamed, so that the request
 * fails and is retried with backoff like any other.
 */
function proxyPool(pool: Pool): Pool {
  const connect = pool.connect.bind(pool) as (
    options: Dispatcher.ConnectOptions,
  ) => Promise<Dispatcher.ConnectData>;
  return Object.assign(pool, {
    connect: (options: Dispatcher.ConnectOptions) =>
      connect(options).catch((error: unknown) => {
        if (errorCodeOf(error) !== "UND_ERR_SOCKET") throw markTunnelFailure(error);
        const closed = new Error(
          `the proxy closed the connection without answering (${(error as Error).message})`,
          { cause: error },
        );
        throw markTunnelFailure(Object.assign(closed, { code: "PROXY_CLOSED_CONNECTION" }));
      }),
  });
}

/**
 * The connector to an https:// proxy, never naming an IP address as the TLS server name: undici
 * names the proxy's host, an address included, and Node then warned (DEP0123, RFC 6066) on every
 * run through `https://10.0.0.1:3128`. Without a name the connector sends no SNI for an address.
 */
function withoutIpServername(connect: Pool.Options["connect"]): Pool.Options["connect"] {
  if (typeof connect !== "function") return connect;
  return (options, callback) =>
    connect(
      isIP(options.servername ?? "") === 0 ? options : { ...options, servername: undefined },
      callback,
    );
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A header value undici decoded byte by byte (latin1), read as the UTF-8 it is when it is valid
 * UTF-8: a raw `Location: /é.csv` became `/Ã©.csv` through a proxy, while our own client (and
 * curl) read `/é.csv`. A value that is not valid UTF-8 is left as it was.
 */
function asUtf8(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: bytes above 0x7f are what is looked for.
  if (!/[\u0080-\u00ff]/.test(value) || /[^\u0000-\u00ff]/.test(value)) return value;
  try {
    return UTF8.decode(Buffer.from(value, "latin1"));
  } catch {
    return value;
  }
}
