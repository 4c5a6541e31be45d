/**
 * `--header "Proxy-Authorization: …"`, as curl users write it: the proxy's credential, sent to
 * a real tinyproxy that asks for a login (on its requests and on CONNECT), and never to an
 * origin, with a proxy or without one.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders } from "node:http";
import { describe, type TestContext, test } from "node:test";
import { runCli } from "../helpers/cli.js";
import {
  hasOpenssl,
  httpsOrigin,
  listen,
  noProxyEnv,
  proxiedOnlyOrigin,
  serveIf,
  singlePair,
  synced,
} from "../helpers/origins.js";
import { hasTinyproxy, Tinyproxy } from "../helpers/proxy.js";
import { tempDir } from "../helpers/tmp.js";

const SECRET = "PROXYHEADER77";
const header = `Proxy-Authorization: Basic ${Buffer.from(`alice:${SECRET}`).toString("base64")}`;

async function loginProxy(t: TestContext, dir: string) {
  const started = await Tinyproxy.start(dir, { user: "alice", password: SECRET });
  t.after(() => started.stop());
  return started;
}

describe("a Proxy-Authorization header", {
  skip: hasTinyproxy ? false : "tinyproxy is not installed",
}, () => {
  test("logs in to the proxy for http and for a CONNECT tunnel; never shown", {
    skip: hasOpenssl ? false : "openssl is not installed",
  }, async (t) => {
    const dir = await tempDir(t);
    const through = await loginProxy(t, dir);
    const origin = await proxiedOnlyOrigin(t);
    const plain = await runCli(singlePair(origin, dir, "data.bin", "--header", header), {
      env: { ...noProxyEnv, http_proxy: through.url },
    });
    assert.equal(plain.code, 0, plain.stderr.slice(0, 600));
    assert.ok(await synced(dir));
    const tls = await httpsOrigin(t, dir);
    const tunnelled = await runCli(
      singlePair(tls.url, dir, "tls.bin", "--cacert", tls.ca, "--header", header),
      { env: { ...noProxyEnv, https_proxy: through.url } },
    );
    assert.equal(tunnelled.code, 0, tunnelled.stderr.slice(0, 600));
    assert.match(await through.log(), /CONNECT/);
    const refused = await runCli(singlePair(origin, dir, "refused.bin", "--json"), {
      env: { ...noProxyEnv, http_proxy: through.url },
    });
    assert.notEqual(refused.code, 0, "without it the proxy refuses: the header is what logged in");
    // The proxy URL's own login wins over the header, as in curl.
    const wrongHeader = `Proxy-Authorization: Basic ${Buffer.from("alice:nope").toString("base64")}`;
    const withUrl = new URL(through.url);
    withUrl.username = "alice";
    withUrl.password = SECRET;
    const urlWins = await runCli(singlePair(origin, dir, "url.bin", "--header", wrongHeader), {
      env: { ...noProxyEnv, http_proxy: withUrl.href },
    });
    assert.equal(urlWins.code, 0, urlWins.stderr.slice(0, 600));
    for (const output of [plain, tunnelled]) {
      assert.ok(!`${output.stdout}${output.stderr}`.includes(SECRET));
    }
  });
});

test("a Proxy-Authorization header never reaches an origin reached directly", async (t) => {
  const dir = await tempDir(t);
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    serveIf(() => true)(req, res);
  });
  const origin = `http://127.0.0.1:${await listen(t, server)}/data.bin`;
  const result = await runCli(singlePair(origin, dir, "data.bin", "--header", header), {
    env: noProxyEnv,
  });
  assert.equal(result.code, 0, result.stderr);
  assert.ok(seen.length > 0);
  assert.deepEqual(
    seen.filter((headers) => headers["proxy-authorization"] !== undefined),
    [],
    "no request carried it",
  );
});
