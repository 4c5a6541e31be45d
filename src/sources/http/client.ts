/**
 * The http(s) client over undici: one connection pool (Agent) per run with keep-alive, conditional
 * requests, ranged resume guarded by `If-Range`, redirects followed by hand so that only
 * http(s) → http(s) is allowed, and every failure classified (status, error code, retryable).
 */
import type { Dispatcher } from "undici";
import { SyncError } from "../../errors.js";
import { redactUrl } from "../../log/redact.js";
import type { NetworkSettings } from "../../options/network.js";
import type { Source } from "../source.js";
import { basicAuthorization, discard } from "./headers.js";
import { netrcFor } from "./netrc.js";
import type { ProxyInUse } from "./proxy-errors.js";
import { HttpSource } from "./source.js";

export const MAX_REDIRECTS = 10;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Headers that must not follow a redirect to another origin (as curl does without --location-trusted). */
const CREDENTIAL_HEADERS = ["authorization", "cookie", "proxy-authorization"];

export interface HttpClientOptions {
  /** Connect, response-headers and body-stall timeout of one request. */
  timeoutMs: number;
  /** Extra request headers, lower-case names. */
  headers: Record<string, string>;
  userAgent: string;
  now: () => number;
  /** Proxies, TLS, netrc; none when absent. */
  network?: NetworkSettings;
}

/** One run's HTTP client: creates sources that share its connection pool. Close it when done. */
export class HttpClient {
  /** One pool per scheme: http and https URLs may have different proxies (curl's rules). */
  readonly #agents: { http: Dispatcher; https: Dispatcher };
  readonly #request: typeof import("undici").request;
  readonly #options: HttpClientOptions;

  private constructor(undici: typeof import("undici"), options: HttpClientOptions) {
    this.#options = options;
    this.#request = undici.request;
    const network = options.network;
    const tls = network?.tls ?? { rejectUnauthorized: true };
    // undici's EnvHttpProxyAgent picks proxy or direct per host (no_proxy); given explicit
    // values it reads no environment of its own. An https URL with only an http proxy set goes
    // direct, as in curl (undici alone would send it through the http proxy).
    // Plain http goes to the proxy as an absolute-URI request, as curl sends it (many proxies
    // allow CONNECT to port 443 only); https is tunnelled with CONNECT.
    const agentFor = (proxy: string, scheme: "http" | "https") =>
      new undici.EnvHttpProxyAgent({
        httpProxy: proxy,
        httpsProxy: proxy,
        proxyTunnel: scheme === "https",
        noProxy: network?.noProxy ?? "",
        connect: { timeout: options.timeoutMs, ...tls },
        requestTls: { timeout: options.timeoutMs, ...tls },
        proxyTls: { timeout: options.timeoutMs },
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
        keepAliveTimeout: 10_000,
        connections: 16,
      });
    const httpProxy = network?.httpProxy ?? "";
    const httpsProxy = network?.httpsProxy ?? "";
    const https = agentFor(httpsProxy, "https");
    // Without any proxy one pool serves both schemes (an http URL must never reach the https
    // proxy, and http is not tunnelled: with a proxy each scheme has its own).
    const shared = httpProxy === "" && httpsProxy === "";
    this.#agents = { http: shared ? https : agentFor(httpProxy, "http"), https };
  }

  /** Loads undici lazily: runs without an http source (and `--version`) never pay for it. */
  static async create(options: HttpClientOptions): Promise<HttpClient> {
    return new HttpClient(await import("undici"), options);
  }

  /** `within`: the remote directory the file was listed in; its redirects must stay inside it. */
  source(url: string, within?: string): Source {
    return new HttpSource(url, this, within);
  }

  async close(): Promise<void> {
    const { http, https } = this.#agents;
    await Promise.all(http === https ? [https.destroy()] : [http.destroy(), https.destroy()]);
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
    // Credentials: the URL's own, else the netrc entry of its host (asked again after a
    // redirect to another host, so one host's entry never reaches another).
    const explicit = current.username !== "" || current.password !== "";
    const credentialsFor = (url: URL) =>
      explicit ? basicAuthorization(url) : netrcAuthorization(this.#options.network, url);
    let sent: Record<string, string> = {
      "user-agent": this.#options.userAgent,
      ...credentialsFor(current),
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
        dispatcher: current.protocol === "https:" ? this.#agents.https : this.#agents.http,
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
        if (!explicit) sent = { ...sent, ...netrcAuthorization(this.#options.network, next) };
      }
      current = next;
    }
  }

  now(): number {
    return this.#options.now();
  }

  /**
   * The proxy set for `url`'s scheme, for messages about a proxy's answer (undefined: none). It
   * does not apply no_proxy: it is asked only about requests a proxy did answer.
   */
  proxyFor(url: string): ProxyInUse | undefined {
    const network = this.#options.network;
    const scheme = url.startsWith("https:") ? "https" : "http";
    const proxy = scheme === "https" ? network?.httpsProxy : network?.httpProxy;
    if (!proxy) return undefined;
    return { url: proxy, source: network?.proxySource[scheme] };
  }
}

/** `Authorization: Basic` from the netrc entry of `url`'s host, if any. */
function netrcAuthorization(
  network: NetworkSettings | undefined,
  url: URL,
): Record<string, string> {
  const entry = netrcFor(network?.netrc, url.hostname);
  if (!entry) return {};
  const token = Buffer.from(`${entry.login}:${entry.password}`).toString("base64");
  return { authorization: `Basic ${token}` };
}
