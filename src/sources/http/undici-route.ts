/**
 * The requests the HTTP/1.1 client does not send itself — those that go through a proxy — sent
 * with undici. This module (and undici with it) is loaded only when such a request is made: a
 * run without a proxy never loads undici.
 *
 * One pool per scheme behind undici's `EnvHttpProxyAgent`, which picks the proxy or a direct
 * connection per host (no_proxy); given explicit values it reads no environment of its own. An
 * https URL with only an http proxy set goes direct, as in curl (undici alone would send it
 * through the http proxy). Plain http goes to the proxy as an absolute-URI request, as curl sends
 * it (many proxies allow CONNECT to port 443 only); https is tunnelled with CONNECT.
 */
import { type Dispatcher, EnvHttpProxyAgent, request } from "undici";
import type { NetworkSettings } from "../../options/network.js";

/** Loaded with undici: its bodies are read off at once (see eager-body.ts). */
export { eagerBody } from "./eager-body.js";

export class UndiciRoute {
  readonly #agents: { http: Dispatcher; https: Dispatcher };
  readonly #timeoutMs: number;

  constructor(timeoutMs: number, network: NetworkSettings | undefined) {
    this.#timeoutMs = timeoutMs;
    const tls = network?.tls ?? { rejectUnauthorized: true };
    const agentFor = (proxy: string, scheme: "http" | "https") =>
      new EnvHttpProxyAgent({
        httpProxy: proxy,
        httpsProxy: proxy,
        proxyTunnel: scheme === "https",
        noProxy: network?.noProxy ?? "",
        connect: { timeout: timeoutMs, ...tls },
        requestTls: { timeout: timeoutMs, ...tls },
        proxyTls: { timeout: timeoutMs },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
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

  request(
    url: URL,
    init: { method: "GET" | "HEAD"; headers: Record<string, string>; signal: AbortSignal },
  ): Promise<Dispatcher.ResponseData> {
    return request(url, {
      method: init.method,
      headers: init.headers,
      dispatcher: url.protocol === "https:" ? this.#agents.https : this.#agents.http,
      signal: init.signal,
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
    });
  }

  async close(): Promise<void> {
    const { http, https } = this.#agents;
    await Promise.all(http === https ? [https.destroy()] : [http.destroy(), https.destroy()]);
  }
}
