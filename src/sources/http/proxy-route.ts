/**
 * Whether a URL goes through a proxy: curl's `no_proxy` rule (curl 7.86 and later), the one
 * decision both HTTP clients follow (the undici route picks its dispatcher with it too, so a
 * request is never sent direct by one client and through the proxy by the other).
 *
 * `noProxy` is the run's (`--no-proxy`, else `no_proxy` / `NO_PROXY`): entries separated by
 * commas or white space; `*` alone matches everything.
 * - A host name matches itself and its subdomains; a leading `.` (or `*.`) is dropped, and a
 *   trailing `.` on either side is ignored. Case does not matter.
 * - When the URL's host is an IP address, only IP entries match it: an address, or a network in
 *   CIDR form (`10.0.0.0/8`, `fd00::/8`). A bare IPv6 address (`::1`) is an address, never a
 *   host and a port; `[::1]` is the same. Addresses compare by value, not spelling. A name never
 *   matches an address as a suffix (`0.1` does not match `127.0.0.1`), as in curl.
 * - An entry may end in `:port` (`[::1]:8080` for IPv6) to match that port only. curl has no
 *   such form (such an entry matches nothing there); undici and many other tools do.
 * - Also unlike curl: a `/0` network is every address of its family (curl: the one address),
 *   and Node's `BlockList` takes an IPv4-mapped IPv6 address for its IPv4 address.
 */
import { BlockList, isIP } from "node:net";

const DEFAULT_PORTS: Record<string, number> = { "http:": 80, "https:": 443 };

interface Entry {
  /** Lower case, without a leading `.`/`*.` or a trailing `.`; "" for an IP entry. */
  readonly name: string;
  /** The addresses an IP entry matches. */
  readonly addresses?: BlockList;
  /** 0: any port. */
  readonly port: number;
}

const parsedLists = new Map<string, readonly Entry[]>();

export function goesThroughProxy(url: URL, proxy: string, noProxy: string): boolean {
  if (proxy === "") return false;
  if (noProxy.trim() === "*") return false;
  const entries = entriesOf(noProxy);
  if (entries.length === 0) return true;
  // url.hostname keeps an IPv6 literal's brackets; an IPv4 literal is already canonical.
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "");
  const family = isIP(host);
  const port = Number.parseInt(url.port, 10) || DEFAULT_PORTS[url.protocol] || 0;
  for (const entry of entries) {
    if (entry.port !== 0 && entry.port !== port) continue;
    if (family !== 0) {
      if (entry.addresses?.check(host, family === 6 ? "ipv6" : "ipv4")) return false;
    } else if (entry.name !== "" && (host === entry.name || host.endsWith(`.${entry.name}`))) {
      return false;
    }
  }
  return true;
}

/** The entries of a `no_proxy` value, parsed once per distinct value. */
function entriesOf(noProxy: string): readonly Entry[] {
  let entries = parsedLists.get(noProxy);
  if (entries === undefined) {
    entries = noProxy
      .split(/[,\s]/)
      .filter((token) => token !== "")
      .map(parseEntry)
      .filter((entry): entry is Entry => entry !== undefined);
    if (parsedLists.size > 16) parsedLists.clear();
    parsedLists.set(noProxy, entries);
  }
  return entries;
}

function parseEntry(token: string): Entry | undefined {
  let text = token.toLowerCase();
  let port = 0;
  const bracketed = /^\[([^\]]*)\](?::(\d+))?$/.exec(text);
  if (bracketed) {
    text = bracketed[1] as string;
    port = bracketed[2] ? Number.parseInt(bracketed[2], 10) : 0;
  } else if ((text.match(/:/g) ?? []).length === 1) {
    // One colon: a name or IPv4 address with a port. More than one: a bare IPv6 address.
    const withPort = /^(.*):(\d+)$/.exec(text);
    if (!withPort) return undefined;
    text = withPort[1] as string;
    port = Number.parseInt(withPort[2] as string, 10);
  }
  const network = /^(.*)\/(\d{1,3})$/.exec(text);
  const address = network ? (network[1] as string) : text;
  const family = isIP(address);
  if (family !== 0) {
    const type = family === 6 ? "ipv6" : "ipv4";
    const bits = network ? Number.parseInt(network[2] as string, 10) : family === 6 ? 128 : 32;
    if (bits > (family === 6 ? 128 : 32)) return undefined;
    const addresses = new BlockList();
    addresses.addSubnet(address, bits, type);
    return { name: "", addresses, port };
  }
  if (network) return undefined;
  const name = text.replace(/^\*?\./, "").replace(/\.$/, "");
  return name === "" ? undefined : { name, port };
}
