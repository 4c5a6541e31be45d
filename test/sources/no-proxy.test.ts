/**
 * no_proxy as curl (7.86 and later) reads it: IP entries compare as addresses (CIDR networks,
 * bare IPv6), names as names and their subdomains, never a name as a suffix of an address. Both
 * HTTP clients follow the one rule: the end-to-end cases run through a real tinyproxy with our
 * own client and with undici (`RESILIENT_SYNC_HTTP_CLIENT=undici`).
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, type TestContext, test } from "node:test";
import { goesThroughProxy } from "../../src/sources/http/proxy-route.js";
import { runCli } from "../helpers/cli.js";
import { noProxyEnv, proxiedOnlyOrigin, serveIf, singlePair } from "../helpers/origins.js";
import { hasTinyproxy, Tinyproxy } from "../helpers/proxy.js";
import { tempDir } from "../helpers/tmp.js";

const PROXY = "http://proxy.example:3128";
const through = (url: string, noProxy: string) => goesThroughProxy(new URL(url), PROXY, noProxy);

test("no_proxy: the cases curl documents and the ones it is known for", () => {
  const direct: [string, string][] = [
    ["http://[::1]:8080/f", "::1"],
    ["http://[::1]:8080/f", "[::1]"],
    ["http://[::1]:8080/f", "0:0:0:0:0:0:0:1"],
    ["http://[fd00::5]/f", "fd00::/8"],
    ["http://10.1.2.3/f", "10.0.0.0/8"],
    ["http://10.1.2.3/f", "localhost, 10.0.0.0/8"],
    ["http://127.0.0.1:9/f", "127.0.0.1"],
    ["http://example.com/f", "example.com"],
    ["http://www.Example.com/f", ".example.COM"],
    ["http://www.example.com/f", "*.example.com"],
    ["http://www.example.com./f", "example.com"],
    ["http://example.com/f", "example.com."],
    ["http://example.com:8080/f", "example.com:8080"],
    ["http://[::1]:8080/f", "[::1]:8080"],
    ["https://example.com/f", "example.com:443"],
    ["http://anything/f", "*"],
    ["http://anything/f", " * "],
  ];
  for (const [url, noProxy] of direct) {
    assert.equal(through(url, noProxy), false, `${url} with no_proxy=${noProxy} goes direct`);
  }
  const proxied: [string, string][] = [
    ["http://127.0.0.1/f", "0.1"],
    ["http://127.0.0.1/f", "localhost"],
    ["http://11.1.2.3/f", "10.0.0.0/8"],
    ["http://[::2]/f", "::1"],
    ["http://notexample.com/f", "example.com"],
    ["http://example.com:8080/f", "example.com:80"],
    ["http://[::1]:8080/f", "[::1]:9090"],
    ["http://example.com/f", ""],
    ["http://example.com/f", "*,other"],
    ["http://10.1.2.3/f", "10.0.0.0/33"],
    ["http://example.com/f", "example.com/8"],
  ];
  for (const [url, noProxy] of proxied) {
    assert.equal(through(url, noProxy), true, `${url} with no_proxy=${noProxy} uses the proxy`);
  }
  assert.equal(goesThroughProxy(new URL("http://example.com/"), "", ""), false, "no proxy set");
});

async function proxiedOnlyOriginOnIpv6(t: TestContext): Promise<string> {
  const server = createServer(serveIf((req) => /tinyproxy/.test(String(req.headers.via))));
  server.listen(0, "::1");
  await once(server, "listening");
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://[::1]:${(server.address() as AddressInfo).port}/data.bin`;
}

describe("no_proxy through a real proxy", {
  skip: hasTinyproxy ? false : "tinyproxy is not installed",
}, () => {
  for (const client of ["our own client", "undici"]) {
    test(`${client}: CIDR and bare IPv6 entries go direct, a name is never an address's suffix`, async (t) => {
      const dir = await tempDir(t);
      const proxy = await Tinyproxy.start(dir);
      t.after(() => proxy.stop());
      const v4 = await proxiedOnlyOrigin(t);
      const v6 = await proxiedOnlyOriginOnIpv6(t);
      const v6Port = new URL(v6).port;
      // The origins answer only what came through tinyproxy: 70 says the request went direct.
      const cases: [string, string, number][] = [
        [v4, "127.0.0.0/8", 70],
        [v4, "0.1", 0],
        [v4, "localhost,192.168.0.0/16", 0],
        [v6, "::1", 70],
        [v6, `[::1]:${v6Port}`, 70],
        [v6, "::2", 0],
      ];
      for (const [index, [origin, noProxy, code]] of cases.entries()) {
        const result = await runCli(singlePair(origin, dir, `case-${index}.bin`), {
          env: {
            ...noProxyEnv,
            http_proxy: proxy.url,
            no_proxy: noProxy,
            ...(client === "undici" ? { RESILIENT_SYNC_HTTP_CLIENT: "undici" } : {}),
          },
        });
        assert.equal(
          result.code,
          code,
          `${origin} with no_proxy=${noProxy}: ${result.stderr.slice(0, 400)}`,
        );
      }
    });
  }
});
