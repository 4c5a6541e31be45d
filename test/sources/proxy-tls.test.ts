/**
 * An https:// proxy: TLS (a node:tls server, its certificate self-signed by openssl) in front of
 * a real tinyproxy, as stunnel would put it. Its certificate is trusted with `--proxy-cacert`
 * (curl's), or not checked with `--proxy-insecure` (warned); `--cacert` is the origins' alone.
 * undici tunnels plain http through an https:// proxy too (`CONNECT`), where curl sends an
 * absolute-URI request: the origins here serve whoever asks, and the proxy's log says it was used.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { connect, type Socket } from "node:net";
import { describe, type TestContext, test } from "node:test";
import { createServer as createSecureServer } from "node:tls";
import { findLog, runCli } from "../helpers/cli.js";
import {
  hasOpenssl,
  httpsOrigin,
  listen,
  noProxyEnv,
  selfSigned,
  serveIf,
  singlePair,
} from "../helpers/origins.js";
import { hasTinyproxy, Tinyproxy } from "../helpers/proxy.js";
import { tempDir } from "../helpers/tmp.js";

async function anyOrigin(t: TestContext): Promise<string> {
  return `http://127.0.0.1:${await listen(t, createServer(serveIf(() => true)))}/data.bin`;
}

/** TLS in front of a tinyproxy: resolves to its URL and its certificate's file. */
async function httpsProxy(t: TestContext, dir: string) {
  const tinyproxy = await Tinyproxy.start(dir);
  t.after(() => tinyproxy.stop());
  const { cert, key } = selfSigned(dir, "proxy");
  const sockets: Socket[] = [];
  const front = createSecureServer(
    { cert: await readFile(cert), key: await readFile(key) },
    (tls) => {
      const plain = connect(tinyproxy.port, "127.0.0.1");
      sockets.push(tls, plain);
      tls.on("error", () => plain.destroy());
      plain.on("error", () => tls.destroy());
      tls.pipe(plain).pipe(tls);
    },
  );
  front.on("tlsClientError", () => {});
  front.listen(0, "127.0.0.1");
  await once(front, "listening");
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    front.close();
  });
  const url = `https://127.0.0.1:${(front.address() as { port: number }).port}`;
  return { url, cert, tinyproxy };
}

describe("an https:// proxy", {
  skip: !hasTinyproxy
    ? "tinyproxy is not installed"
    : !hasOpenssl
      ? "openssl is not installed"
      : false,
}, () => {
  test("--proxy-cacert trusts its certificate, for http and a CONNECT tunnel; --cacert does not", async (t) => {
    const dir = await tempDir(t);
    const proxy = await httpsProxy(t, dir);
    const origin = await anyOrigin(t);
    const plain = await runCli(
      singlePair(origin, dir, "plain.bin", "--proxy", proxy.url, "--proxy-cacert", proxy.cert),
      { env: noProxyEnv },
    );
    assert.equal(plain.code, 0, plain.stderr.slice(0, 600));
    // An IP-addressed proxy is asked without SNI (Node warned DEP0123 on every run).
    assert.equal(findLog(plain, "library warning"), undefined, plain.stderr.slice(0, 600));
    assert.ok((await proxy.tinyproxy.log()).includes(`127.0.0.1:${new URL(origin).port}`));
    const tls = await httpsOrigin(t, dir);
    const tunnelled = await runCli(
      singlePair(
        tls.url,
        dir,
        "tls.bin",
        "--proxy",
        proxy.url,
        "--proxy-cacert",
        proxy.cert,
        "--cacert",
        tls.ca,
      ),
      { env: noProxyEnv },
    );
    assert.equal(tunnelled.code, 0, tunnelled.stderr.slice(0, 600));
    assert.equal(findLog(tunnelled, "library warning"), undefined, tunnelled.stderr.slice(0, 600));
    assert.match(await proxy.tinyproxy.log(), /CONNECT/);
    // The origins' CA file is not the proxy's: its certificate is refused, and named as the proxy's.
    const wrongFile = await runCli(
      singlePair(origin, dir, "wrong.bin", "--proxy", proxy.url, "--cacert", proxy.cert, "--json"),
      { env: noProxyEnv },
    );
    assert.equal(wrongFile.code, 70, wrongFile.stderr.slice(0, 600));
    assert.match(
      JSON.parse(wrongFile.stdout).results[0].error.message,
      /TLS certificate of the proxy/,
    );
  });

  test("--proxy-insecure skips its check and says so; the origin's is still checked", async (t) => {
    const dir = await tempDir(t);
    const proxy = await httpsProxy(t, dir);
    const origin = await anyOrigin(t);
    const insecure = await runCli(
      singlePair(origin, dir, "plain.bin", "--proxy", proxy.url, "--proxy-insecure"),
      { env: noProxyEnv },
    );
    assert.equal(insecure.code, 0, insecure.stderr.slice(0, 600));
    assert.ok((await proxy.tinyproxy.log()).includes(`127.0.0.1:${new URL(origin).port}`));
    assert.match(
      String(findLog(insecure, "TLS certificates not verified")?.reason),
      /--proxy-insecure/,
    );
    const tls = await httpsOrigin(t, dir);
    const originUnchecked = await runCli(
      singlePair(tls.url, dir, "tls.bin", "--proxy", proxy.url, "--proxy-insecure", "--json"),
      { env: noProxyEnv },
    );
    assert.equal(originUnchecked.code, 70, "the origin's self-signed certificate is still refused");
    assert.match(JSON.parse(originUnchecked.stdout).results[0].error.message, /certificate/i);
  });
});
