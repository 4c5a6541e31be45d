/**
 * Whether a URL goes through a proxy: the rule undici's `EnvHttpProxyAgent` applies, so that a
 * request the HTTP/1.1 client sends directly is exactly one undici would have sent directly.
 * `noProxy` is the run's (`--no-proxy`, else `no_proxy` / `NO_PROXY`): comma- or space-separated
 * host names, each matching itself and its subdomains (a leading `.` or `*.` is dropped), with an
 * optional `:port`; `*` alone matches everything.
 */

const DEFAULT_PORTS: Record<string, number> = { "http:": 80, "https:": 443 };

export function goesThroughProxy(url: URL, proxy: string, noProxy: string): boolean {
  if (proxy === "") return false;
  const entries = noProxy.split(/[,\s]/).filter((entry) => entry !== "");
  if (entries.length === 0) return true;
  if (noProxy === "*") return false;
  // url.host keeps the brackets of an IPv6 literal.
  const hostname = url.host.replace(/:\d*$/, "").toLowerCase();
  const port = Number.parseInt(url.port, 10) || DEFAULT_PORTS[url.protocol] || 0;
  for (const entry of entries) {
    const parsed = /^(.+):(\d+)$/.exec(entry);
    const host = (parsed ? (parsed[1] as string) : entry).replace(/^\*?\./, "").toLowerCase();
    const entryPort = parsed ? Number.parseInt(parsed[2] as string, 10) : 0;
    if (entryPort && entryPort !== port) continue;
    if (hostname === host || hostname.endsWith(`.${host}`)) return false;
  }
  return true;
}
