/**
 * What goes wrong only behind a proxy, where requests leave our own HTTP/1.1 client for undici: a
 * redirect's next hop, a tunnel the proxy never opens, a `Location` in raw UTF-8. A real
 * tinyproxy, real node:http(s) origins, and a real TCP server that accepts and never answers.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { createServer as createTcpServer, type Socket } from "node:net";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { createServer as createSecureServer } from "node:tls";
import { CliProcess, findLog, runCli } from "../helpers/cli.js";
import { hasOpenssl, listen, noProxyEnv, selfSigned, singlePair } from "../helpers/origins.js";
import { freePort, hasTinyproxy, Tinyproxy } from "../helpers/proxy.js";
import { tempDir } from "../helpers/tmp.js";

async function proxy(t: TestContext, dir: string) {
  const started = await Tinyproxy.start(dir);
  t.after(() => started.stop());
  return started;
}

/** A "proxy" that takes connections and never answers: resolves each connection's first bytes. */
async function silentProxy(t: TestContext) {
  const sockets: Socket[] = [];
  let heard: (text: string) => void = () => {};
  const firstRequest = new Promise<string>((resolve) => {
    heard = resolve;
  });
  const server = createTcpServer((socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
    socket.once("data", (chunk) => heard(chunk.toString("latin1")));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, firstRequest };
}

/**
 * A run of one https file through `proxy` with `extra` options, which must fail (exit 70):
 * the run, and its result's error.
 */
async function failedThrough(proxy: string, dir: string, ...extra: string[]) {
  const run = await runCli(
    [...singlePair("https://127.0.0.1:9/data.bin", dir, "data.bin"), ...extra, "--json"],
    { env: { ...noProxyEnv, https_proxy: proxy } },
  );
  assert.equal(run.code, 70, run.stderr);
  const failure: { code: string; message: string } = JSON.parse(run.stdout).results[0].error;
  return { run, failure };
}

describe("behind a proxy", { skip: hasTinyproxy ? false : "tinyproxy is not installed" }, () => {
  test("a redirect's next hop, through a tunnel, is asked under its own Host (it was asked under the first hop's)", {
    skip: hasOpenssl ? false : "openssl is not installed",
  }, async (t) => {
    const dir = await tempDir(t);
    // The target serves its file only to requests naming it; any other Host gets another page,
    // as a virtual host would. Inside a CONNECT tunnel the proxy cannot mend the Host it is sent.
    const { cert, key } = selfSigned(dir, "target");
    let targetPort = 0;
    const target = createTlsServer(
      { cert: await readFile(cert), key: await readFile(key) },
      (req, res) => {
        if (req.headers.host === `127.0.0.1:${targetPort}`) res.end("the real file\n");
        else res.end(`the default site's page, for Host ${req.headers.host}\n`);
      },
    );
    targetPort = await listen(t, target);
    const first = createServer((_req, res) => {
      res.writeHead(302, { location: `https://127.0.0.1:${targetPort}/data.csv` }).end();
    });
    const firstPort = await listen(t, first);
    const through = await proxy(t, dir);
    const run = await runCli(
      singlePair(`http://127.0.0.1:${firstPort}/go`, dir, "data.csv", "--cacert", cert),
      { env: { ...noProxyEnv, http_proxy: through.url, https_proxy: through.url } },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await readFile(join(dir, "data.csv"), "utf8"), "the real file\n");
  });

  test("a raw UTF-8 Location is followed as UTF-8, as without a proxy (it was read as latin1)", async (t) => {
    const dir = await tempDir(t);
    const seen: string[] = [];
    const origin = createServer((req, res) => {
      seen.push(String(req.url));
      if (req.url === "/go") {
        // The bytes of `/é.csv` in UTF-8, sent as they are (node:http writes latin1 strings).
        const raw = Buffer.from("/é.csv", "utf8").toString("latin1");
        res.writeHead(302, { location: raw }).end();
      } else if (req.url === "/%C3%A9.csv") res.end("accented\n");
      else res.writeHead(404).end();
    });
    const port = await listen(t, origin);
    const through = await proxy(t, dir);
    const run = await runCli(singlePair(`http://127.0.0.1:${port}/go`, dir, "e.csv"), {
      env: { ...noProxyEnv, http_proxy: through.url },
    });
    assert.equal(run.code, 0, `${run.stderr}\nrequested: ${seen.join(" ")}`);
    assert.equal(await readFile(join(dir, "e.csv"), "utf8"), "accented\n");
  });
});

// Bounded: the failure these guard against is a wait of minutes.
describe("a proxy that never answers CONNECT", { timeout: 60_000 }, () => {
  test("is given --timeout, named, and not held against the origin (it was awaited 300 s)", async (t) => {
    const dir = await tempDir(t);
    const silent = await silentProxy(t);
    const { run, failure } = await failedThrough(
      silent.url,
      dir,
      "--timeout",
      "1",
      "--max-retries",
      "1",
    );
    assert.match(await silent.firstRequest, /^CONNECT 127\.0\.0\.1:9 /);
    assert.equal(failure.code, "timeout");
    assert.match(failure.message, /the proxy .* did not answer the tunnel request \(CONNECT\)/);
    assert.equal(findLog(run, "circuit breaker opened"), undefined, "the origin was never asked");
  });

  test("a proxy port nobody listens on, for an https origin: still 'cannot reach the proxy' (not a tunnel failure)", async (t) => {
    const dir = await tempDir(t);
    const dead = `http://127.0.0.1:${await freePort()}`;
    const { failure } = await failedThrough(dead, dir, "--max-retries", "1");
    assert.match(failure.message, /cannot reach the proxy .* \(ECONNREFUSED\)/);
  });

  test("one that reads CONNECT and hangs up: one connection an attempt (undici reconnected 2,500 times a second, for ever)", async (t) => {
    const dir = await tempDir(t);
    let connections = 0;
    const hangsUp = createTcpServer((socket) => {
      connections += 1;
      socket.on("error", () => {});
      let head = "";
      socket.on("data", (chunk) => {
        head += chunk.toString("latin1");
        if (head.includes("\r\n\r\n")) socket.end();
      });
    });
    hangsUp.listen(0, "127.0.0.1");
    await once(hangsUp, "listening");
    t.after(() => hangsUp.close());
    const proxyUrl = `http://127.0.0.1:${(hangsUp.address() as { port: number }).port}`;
    const { failure } = await failedThrough(proxyUrl, dir, "--max-retries", "2");
    assert.match(
      failure.message,
      /the proxy .* failed the tunnel request \(CONNECT\) \(PROXY_CLOSED_CONNECTION\)/,
    );
    assert.equal(connections, 2, "one connection for each of the two attempts");
  });

  test("an https:// proxy whose certificate is refused: named as the proxy's, not retried (it read as the origin's, or was retried)", {
    skip: hasOpenssl ? false : "openssl is not installed",
  }, async (t) => {
    const dir = await tempDir(t);
    const { cert, key } = selfSigned(dir, "proxy");
    let handshakes = 0;
    const tlsProxy = createSecureServer({ cert: await readFile(cert), key: await readFile(key) });
    tlsProxy.on("connection", () => {
      handshakes += 1;
    });
    tlsProxy.on("tlsClientError", () => {});
    tlsProxy.listen(0, "127.0.0.1");
    await once(tlsProxy, "listening");
    t.after(() => tlsProxy.close());
    const proxyUrl = `https://127.0.0.1:${(tlsProxy.address() as { port: number }).port}`;
    const { failure } = await failedThrough(proxyUrl, dir, "--max-retries", "3");
    assert.match(
      failure.message,
      /TLS certificate of the proxy https:\/\/127\.0\.0\.1:\d+\/? \(from https_proxy\) refused \(DEPTH_ZERO_SELF_SIGNED_CERT\)/,
    );
    assert.equal(handshakes, 1, "a refused certificate is not asked again");
  });

  test("SIGTERM while waiting for it: exit 143 (the run stayed until the proxy hung up)", async (t) => {
    const dir = await tempDir(t);
    const silent = await silentProxy(t);
    const run = new CliProcess(
      [...singlePair("https://127.0.0.1:9/data.bin", dir, "data.bin"), "--timeout", "600"],
      { env: { ...noProxyEnv, https_proxy: silent.url } },
    );
    t.after(() => run.child.kill("SIGKILL"));
    await silent.firstRequest;
    run.child.kill("SIGTERM");
    const result = await run.done;
    assert.equal(result.code, 143, result.stderr);
    assert.ok(findLog(result, "interrupted"));
  });
});
