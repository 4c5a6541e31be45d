/**
 * The network a run goes through: proxies (`--proxy`, `--no-proxy` and the environment, by
 * curl's rules), TLS trust and client certificates (`--cacert`, `--insecure`, `--cert`, `--key`;
 * `--proxy-cacert`, `--proxy-insecure` for an https:// proxy),
 * and netrc credentials (`--netrc`, `--netrc-file`). Validated once, here; files are read here,
 * so a missing certificate or netrc file is a usage error (exit 64) before anything is written.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../errors.js";
import { type Netrc, parseNetrc } from "../sources/http/netrc.js";

export interface NetworkOptions {
  /** Proxy for every http(s) URL (curl's `-x`); `""` turns every proxy off, the environment's too. */
  proxy?: string;
  /** Hosts reached directly: comma-separated names, `.domain` suffixes, `*` for all. */
  noProxy?: string;
  /** PEM file of the CAs to trust instead of the system's. */
  cacert?: string;
  /** Skip certificate verification (warned on every run). */
  insecure?: boolean;
  /** PEM file of the CAs to trust for an `https://` proxy instead of the system's (curl's `--proxy-cacert`). */
  proxyCacert?: string;
  /** Skip the verification of an `https://` proxy's certificate (warned on every run). */
  proxyInsecure?: boolean;
  /** PEM client certificate (and its key, unless `key` names another file). */
  cert?: string;
  key?: string;
  /** Read credentials per host from `~/.netrc`. */
  netrc?: boolean;
  /** Read credentials per host from this file. */
  netrcFile?: string;
}

export interface NetworkSettings {
  /** Proxy URL for http URLs, "" for none. */
  httpProxy: string;
  /** Proxy URL for https URLs (tunnelled with CONNECT), "" for none. */
  httpsProxy: string;
  noProxy: string;
  /** Where each proxy came from, for messages: `--proxy`, `http_proxy` … */
  proxySource: { http?: string; https?: string };
  tls: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean };
  /** The TLS to an `https://` proxy itself: its own trust, as in curl (`tls` is the origins'). */
  proxyTls: { ca?: string; rejectUnauthorized: boolean };
  netrc: Netrc | undefined;
}

/** Every environment variable a proxy may come from (their credentials are secrets to redact). */
export const PROXY_ENV_NAMES = [
  "http_proxy",
  "https_proxy",
  "HTTPS_PROXY",
  "all_proxy",
  "ALL_PROXY",
] as const;

/**
 * Proxies follow curl: `--proxy` wins; else `http_proxy` (lower case only: a CGI server sets
 * `HTTP_PROXY` from a request's `Proxy:` header) for http, `https_proxy` or `HTTPS_PROXY` for
 * https, and `all_proxy` / `ALL_PROXY` for either; `--no-proxy`, else `no_proxy` / `NO_PROXY`.
 * Without `overHttp` (a run of local sources only) the environment's proxies are not read: one
 * this tool cannot use (`ALL_PROXY=socks5h://…`, common on desktops) would refuse a run it never
 * applies to. A `--proxy` given is always checked.
 */
export function resolveNetwork(
  options: NetworkOptions,
  env: NodeJS.ProcessEnv,
  overHttp = true,
): NetworkSettings {
  const fromEnv = (...names: string[]) => {
    for (const name of names) {
      const value = env[name];
      if (value !== undefined && value !== "") return { name, value };
    }
    return undefined;
  };
  let http: { name: string; value: string } | undefined;
  let https: { name: string; value: string } | undefined;
  if (options.proxy !== undefined) {
    http = https = options.proxy === "" ? undefined : { name: "--proxy", value: options.proxy };
  } else if (overHttp) {
    http = fromEnv("http_proxy", "all_proxy", "ALL_PROXY");
    https = fromEnv("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY");
  }
  const noProxy = options.noProxy ?? fromEnv("no_proxy", "NO_PROXY")?.value ?? "";
  const netrcPath =
    options.netrcFile ?? (options.netrc ? join(env.HOME || homedir(), ".netrc") : undefined);
  const flagForNetrc = options.netrcFile !== undefined ? "--netrc-file" : "--netrc";
  return {
    httpProxy: http ? proxyUrl(http) : "",
    httpsProxy: https ? proxyUrl(https) : "",
    noProxy,
    proxySource: {
      ...(http ? { http: http.name } : {}),
      ...(https ? { https: https.name } : {}),
    },
    tls: {
      ...(options.cacert !== undefined ? { ca: readPem("--cacert", options.cacert) } : {}),
      ...(options.cert !== undefined ? { cert: readPem("--cert", options.cert) } : {}),
      ...(options.key !== undefined || options.cert !== undefined
        ? {
            key: readPem(
              options.key !== undefined ? "--key" : "--cert",
              options.key ?? (options.cert as string),
            ),
          }
        : {}),
      rejectUnauthorized: options.insecure !== true,
    },
    proxyTls: {
      ...(options.proxyCacert !== undefined
        ? { ca: readPem("--proxy-cacert", options.proxyCacert) }
        : {}),
      rejectUnauthorized: options.proxyInsecure !== true,
    },
    netrc:
      netrcPath === undefined
        ? undefined
        : parseNetrc(readText(flagForNetrc, netrcPath), (reason) => {
            throw new UsageError(flagForNetrc, `${flagForNetrc} ${netrcPath}: ${reason}`);
          }),
  };
}

/** Why TLS certificates go unverified in this run (`--insecure`, `--proxy-insecure`): said on every run. */
export function unverifiedTls(network: NetworkSettings): string[] {
  return [
    ...(network.tls.rejectUnauthorized ? [] : ["--insecure: any server can pose as the origin"]),
    ...(network.proxyTls.rejectUnauthorized
      ? []
      : ["--proxy-insecure: any server can pose as an https:// proxy"]),
  ];
}

/** A proxy URL as undici takes it: `host:port` means `http://host:port`, as in curl. */
function proxyUrl({ name, value }: { name: string; value: string }): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(name, `${name} is not a valid proxy URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(
      name,
      `${name}: ${url.protocol.slice(0, -1)} proxies are not supported (http:// or https:// only)`,
    );
  }
  // The proxy's credentials are percent-decoded when it is used: a bad escape would fail then.
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
  } catch {
    throw new UsageError(
      name,
      `${name}: the user name or password holds a malformed %-escape (write % as %25)`,
    );
  }
  if (url.pathname !== "/" || url.search !== "" || url.hash !== "") {
    throw new UsageError(
      name,
      `${name} must be a proxy's address (scheme, host, port), not a path`,
    );
  }
  return url.href;
}

function readText(flag: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(
      flag,
      `${flag} ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

function readPem(flag: string, path: string): string {
  const text = readText(flag, path);
  if (!text.includes("-----BEGIN "))
    throw new UsageError(flag, `${flag} ${path} is not a PEM file`);
  return text;
}
