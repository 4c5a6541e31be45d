/**
 * The http(s) client: GET and HEAD with redirects followed by hand so that only http(s) →
 * http(s) is allowed, credentials (URL userinfo, netrc) that never follow a redirect to another
 * origin, and `--header` values likewise. Direct requests go through our own HTTP/1.1 client
 * (`h1/`, see docs/http-client.md); requests through a proxy go through undici, loaded only then.
 */
import type { Readable } from "node:stream";
import { SyncError } from "../../errors.js";
import { redactUrl } from "../../log/redact.js";
import type { NetworkSettings } from "../../options/network.js";
import type { Source } from "../source.js";
import { H1Agent } from "./h1/agent.js";
import { basicAuthorization, discardBody, type ResponseHeaders } from "./headers.js";
import { netrcFor } from "./netrc.js";
import { hasCredentials, type ProxyInUse } from "./proxy-errors.js";
import { goesThroughProxy } from "./proxy-route.js";
import { HttpSource } from "./source.js";
import type { eagerBody as EagerBody, UndiciRoute } from "./undici-route.js";

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
  /** `undici`: send every request with undici, as before our own client (a way back). */
  engine?: "auto" | "undici";
}

/** A response: its status, headers and unread body, and which client it came through. */
export interface HttpResponse {
  statusCode: number;
  headers: ResponseHeaders;
  body: Readable & { dump?: (options?: { limit: number }) => Promise<void> };
  engine: "h1" | "undici";
  /** No body can follow (HEAD, 204, 304), and its connection is free already: nothing to discard. */
  bodiless?: boolean;
  /**
   * The body, to be read by someone else: undici's is read off at once (eager-body.ts: undici 7
   * must never be left paused), ours is handed on as it is (it can pause, and lends its chunks).
   */
  handOver(): Readable;
}

/** One run's HTTP client: creates sources that share its connections. Close it when done. */
export class HttpClient {
  readonly #options: HttpClientOptions;
  readonly #h1: H1Agent;
  readonly #proxyAuthorization: string | undefined;
  #undici: Promise<{ route: UndiciRoute; eagerBody: typeof EagerBody }> | undefined;

  private constructor(options: HttpClientOptions) {
    // A Proxy-Authorization header is the proxy's credential (curl sends it to the proxy): it
    // goes to the proxy agents of the undici route and never to an origin.
    const { "proxy-authorization": proxyAuthorization, ...headers } = options.headers;
    this.#options = { ...options, headers };
    this.#proxyAuthorization = proxyAuthorization;
    this.#h1 = new H1Agent({
      timeoutMs: options.timeoutMs,
      tls: options.network?.tls ?? { rejectUnauthorized: true },
    });
  }

  static async create(options: HttpClientOptions): Promise<HttpClient> {
    return new HttpClient(options);
  }

  /** `within`: the remote directory the file was listed in; its redirects must stay inside it. */
  source(url: string, within?: string): Source {
    return new HttpSource(url, this, within);
  }

  async close(): Promise<void> {
    await this.#h1.close();
    await (await this.#undici)?.route.close();
  }

  /** Whether `url` is sent by undici: through a proxy, or every request when asked to. */
  viaUndici(url: URL): boolean {
    if (this.#options.engine === "undici") return true;
    const network = this.#options.network;
    const proxy = (url.protocol === "https:" ? network?.httpsProxy : network?.httpProxy) ?? "";
    return goesThroughProxy(url, proxy, network?.noProxy ?? "");
  }

  /** One request, by the client that serves `url`. */
  async #send(
    url: URL,
    init: { method: "GET" | "HEAD"; headers: Record<string, string>; signal: AbortSignal },
  ): Promise<HttpResponse> {
    if (!this.viaUndici(url)) {
      const response = await this.#h1.request(url, init);
      // `body` stays a getter: a bodiless response makes its empty body only when asked for.
      return {
        statusCode: response.statusCode,
        headers: response.headers,
        get body() {
          return response.body;
        },
        engine: "h1",
        ...(response.bodiless ? { bodiless: true } : {}),
        handOver: () => response.body,
      };
    }
    this.#undici ??= import("./undici-route.js").then(({ UndiciRoute, eagerBody }) => ({
      route: new UndiciRoute(
        this.#options.timeoutMs,
        this.#options.network,
        this.#proxyAuthorization,
      ),
      eagerBody,
    }));
    const { route, eagerBody } = await this.#undici;
    const response = await route.request(url, init);
    return {
      statusCode: response.statusCode,
      headers: response.headers,
      body: response.body,
      engine: "undici",
      handOver: () => eagerBody(response.body),
    };
  }

  /** One GET (or HEAD), redirects followed; returns the final response with its body unread. */
  async get(
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal,
    method: "GET" | "HEAD" = "GET",
    onHop: (url: URL) => void = () => {},
  ): Promise<{ response: HttpResponse; url: URL }> {
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
    // Only when there is something to strip: each URL setter re-serialises the whole URL.
    if (explicit) {
      current.username = "";
      current.password = "";
    }
    for (let hop = 0; ; hop += 1) {
      onHop(current);
      const response = await this.#send(current, { method, headers: sent, signal });
      const location = response.headers.location;
      if (!REDIRECT_STATUSES.has(response.statusCode) || typeof location !== "string") {
        return { response, url: current };
      }
      await discardBody(response);
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
   * The proxy a request for `url` goes through (undefined: it goes direct, no_proxy applied),
   * for judging its failures: a connection that could not be made is then the proxy's.
   */
  proxyFor(url: string): ProxyInUse | undefined {
    const network = this.#options.network;
    const scheme = url.startsWith("https:") ? "https" : "http";
    const proxy = scheme === "https" ? network?.httpsProxy : network?.httpProxy;
    if (!proxy) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return undefined;
    }
    if (!goesThroughProxy(parsed, proxy, network?.noProxy ?? "")) return undefined;
    const headerLogin = this.#proxyAuthorization !== undefined && !hasCredentials(proxy);
    return {
      url: proxy,
      source: network?.proxySource[scheme],
      ...(headerLogin ? { headerLogin } : {}),
    };
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
