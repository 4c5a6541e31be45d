/**
 * The networks users have: a real tinyproxy in front of an origin that refuses direct clients,
 * with and without proxy auth, for http and (through CONNECT) https; an https origin with a
 * self-signed certificate, one that demands a client certificate; credentials from a netrc file.
 * Skipped, saying why, where tinyproxy or openssl is missing (`.ci/run` installs both).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { once } from "node:events";
import { readFile, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { findLog, singlePair as pairIn, runCli } from "../helpers/cli.js";
import { hasTinyproxy, Tinyproxy } from "../helpers/proxy.js";
import { bytes, sha256 } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

/** One pair whose state is its own: a refused run's circuit must not close the origin to the next. */
let runs = 0;
const singlePair = (url: string, dir: string, destination: string, ...extra: string[]) => {
  runs += 1;
  return [...pairIn(url, dir, destination, ...extra), "--lock-dir", join(dir, `locks-${runs}`)];
};

const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
const BODY = bytes(50_000, 1010);

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Serves BODY at any path to requests `allow` accepts; 403 to the others. */
const serveIf =
  (allow: (req: IncomingMessage) => boolean): Handler =>
  (req, res) => {
    if (!allow(req)) {
      res.writeHead(403).end("direct clients are refused");
      return;
    }
    res.writeHead(200, { "content-length": String(BODY.length), etag: '"v1"' }).end(BODY);
  };

async function listen(t: TestContext, server: ReturnType<typeof createServer>): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

/** An http origin that answers only requests that came through tinyproxy (its `Via`). */
async function proxiedOnlyOrigin(t: TestContext): Promise<string> {
  const server = createServer(serveIf((req) => /tinyproxy/.test(String(req.headers.via))));
  return `http://127.0.0.1:${await listen(t, server)}/data.bin`;
}

async function proxy(t: TestContext, dir: string, auth?: { user: string; password: string }) {
  const started = await Tinyproxy.start(dir, auth);
  t.after(() => started.stop());
  return started;
}

/** A self-signed certificate and key for 127.0.0.1, made by openssl. */
function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "2",
    ].concat(["-subj", `/CN=${name}`, "-addext", "subjectAltName=IP:127.0.0.1"]),
    { stdio: "ignore" },
  );
  return { cert, key };
}

async function httpsOrigin(
  t: TestContext,
  dir: string,
  clientCa?: string,
): Promise<{ url: string; ca: string }> {
  const { cert, key } = selfSigned(dir, "origin");
  const server = createTlsServer(
    {
      cert: await readFile(cert),
      key: await readFile(key),
      ...(clientCa
        ? { ca: await readFile(clientCa), requestCert: true, rejectUnauthorized: true }
        : {}),
    },
    serveIf(() => true),
  );
  return { url: `https://127.0.0.1:${await listen(t, server)}/data.bin`, ca: cert };
}

const noProxyEnv = {
  http_proxy: undefined,
  https_proxy: undefined,
  HTTP_PROXY: undefined,
  HTTPS_PROXY: undefined,
  all_proxy: undefined,
  ALL_PROXY: undefined,
  no_proxy: undefined,
  NO_PROXY: undefined,
};

async function synced(dir: string): Promise<boolean> {
  return (
    sha256(await readFile(join(dir, "data.bin")).catch(() => Buffer.alloc(0))) === sha256(BODY)
  );
}

describe("proxies", { skip: hasTinyproxy ? false : "tinyproxy is not installed" }, () => {
  test("http_proxy is honoured; the origin refuses whoever comes without it", async (t) => {
    const dir = await tempDir(t);
    const origin = await proxiedOnlyOrigin(t);
    const through = await proxy(t, dir);
    const direct = await runCli(singlePair(origin, dir, "direct.bin"), { env: noProxyEnv });
    assert.equal(direct.code, 70, "the origin refuses direct clients");
    const result = await runCli(singlePair(origin, dir, "data.bin"), {
      env: { ...noProxyEnv, http_proxy: through.url },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(await synced(dir));
  });

  test('curl\'s rules: upper-case HTTP_PROXY is ignored for http, no_proxy and --proxy "" go direct, --proxy wins', async (t) => {
    const dir = await tempDir(t);
    const origin = await proxiedOnlyOrigin(t);
    const through = await proxy(t, dir);
    for (const [what, env, extra, code] of [
      ["HTTP_PROXY (upper case)", { HTTP_PROXY: through.url }, [], 70],
      ["no_proxy=127.0.0.1", { http_proxy: through.url, no_proxy: "127.0.0.1" }, [], 70],
      ['--proxy ""', { http_proxy: through.url }, ["--proxy", ""], 70],
      ["--no-proxy '*'", { http_proxy: through.url }, ["--no-proxy", "*"], 70],
      ["--proxy host:port (no scheme)", {}, ["--proxy", `127.0.0.1:${through.port}`], 0],
      ["all_proxy", { all_proxy: through.url }, [], 0],
    ] as const) {
      const result = await runCli(
        singlePair(origin, dir, `${code}-${what.length}.bin`, "--force", ...extra),
        {
          env: { ...noProxyEnv, ...env },
        },
      );
      assert.equal(result.code, code, `${what}: ${result.stderr.slice(0, 500)}`);
    }
  });

  test("proxy Basic auth from the proxy URL; the password never shows; a wrong one fails", async (t) => {
    const dir = await tempDir(t);
    const origin = await proxiedOnlyOrigin(t);
    const through = await proxy(t, dir, { user: "alice", password: "PROXYSECRET42" });
    const withAuth = `http://alice:PROXYSECRET42@127.0.0.1:${through.port}`;
    const ok = await runCli(singlePair(origin, dir, "data.bin", "--proxy", withAuth, "--json"), {
      env: noProxyEnv,
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(await synced(dir));
    const wrong = await runCli(singlePair(origin, dir, "wrong.bin", "--json"), {
      env: { ...noProxyEnv, http_proxy: `http://alice:WRONGSECRET99@127.0.0.1:${through.port}` },
    });
    assert.notEqual(wrong.code, 0);
    // tinyproxy answers a refused proxy login with 401 (squid: 407).
    assert.ok(
      [401, 407].includes(Number(findLog(wrong, "download failed")?.status)),
      wrong.stderr.slice(0, 500),
    );
    for (const output of [ok.stdout + ok.stderr, wrong.stdout + wrong.stderr]) {
      assert.ok(!output.includes("PROXYSECRET42") && !output.includes("WRONGSECRET99"));
    }
  });

  test("https goes through the proxy with CONNECT", {
    skip: hasOpenssl ? false : "openssl is not installed",
  }, async (t) => {
    const dir = await tempDir(t);
    const origin = await httpsOrigin(t, dir);
    const through = await proxy(t, dir);
    const result = await runCli(singlePair(origin.url, dir, "data.bin", "--cacert", origin.ca), {
      env: { ...noProxyEnv, https_proxy: through.url },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(await synced(dir));
    assert.match(await through.log(), /CONNECT/, "the tunnel went through the proxy");
  });

  test("a proxy URL that is not one is refused: exit 64, named, nothing written", async (t) => {
    const dir = await tempDir(t);
    for (const [given, pattern] of [
      ["socks5://127.0.0.1:1080", /socks5 proxies are not supported/],
      ["http://127.0.0.1:8/some/path", /not a path/],
    ] as const) {
      const result = await runCli(
        singlePair("http://127.0.0.1:9/x", dir, "out/x", "--proxy", given),
      );
      assert.equal(result.code, 64, result.stderr);
      assert.match(result.stderr, pattern);
    }
  });
});

describe("TLS", { skip: hasOpenssl ? false : "openssl is not installed" }, () => {
  test("a self-signed origin: refused by default, trusted with --cacert, --insecure warns every run", async (t) => {
    const dir = await tempDir(t);
    const origin = await httpsOrigin(t, dir);
    const refused = await runCli(singlePair(origin.url, dir, "refused.bin"), { env: noProxyEnv });
    assert.equal(refused.code, 70);
    assert.match(String(findLog(refused, "download failed")?.reason), /certificate/i);
    const trusted = await runCli(singlePair(origin.url, dir, "data.bin", "--cacert", origin.ca), {
      env: noProxyEnv,
    });
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.ok(await synced(dir));
    const insecure = await runCli(singlePair(origin.url, dir, "insecure.bin", "--insecure"), {
      env: noProxyEnv,
    });
    assert.equal(insecure.code, 0, insecure.stderr);
    assert.ok(findLog(insecure, "TLS certificates not verified"));
  });

  test("a client certificate with --cert and --key", async (t) => {
    const dir = await tempDir(t);
    const client = selfSigned(dir, "client");
    const origin = await httpsOrigin(t, dir, client.cert);
    const without = await runCli(
      singlePair(origin.url, dir, "without.bin", "--cacert", origin.ca),
      {
        env: noProxyEnv,
      },
    );
    assert.notEqual(without.code, 0, "the origin demands a client certificate");
    const withCert = await runCli(
      singlePair(
        origin.url,
        dir,
        "data.bin",
        "--cacert",
        origin.ca,
        "--cert",
        client.cert,
        "--key",
        client.key,
      ),
      { env: noProxyEnv },
    );
    assert.equal(withCert.code, 0, withCert.stderr);
    assert.ok(await synced(dir));
  });

  test("a --cacert that is missing or not PEM: exit 64, named", async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, "not.pem"), "hello");
    for (const file of [join(dir, "missing.pem"), join(dir, "not.pem")]) {
      const result = await runCli(
        singlePair("https://127.0.0.1:9/x", dir, "out/x", "--cacert", file),
      );
      assert.equal(result.code, 64, result.stderr);
      assert.match(result.stderr, /--cacert/);
    }
  });
});

describe("netrc", () => {
  test("--netrc-file sends the host's credentials, and never to another host after a redirect", async (t) => {
    const dir = await tempDir(t);
    const seen: Array<{ host: string; authorization: string | undefined }> = [];
    const expected = `Basic ${Buffer.from("bob:NETRCSECRET7").toString("base64")}`;
    const other = createServer((req, res) => {
      seen.push({ host: "localhost", authorization: req.headers.authorization });
      serveIf(() => true)(req, res);
    });
    const otherPort = await listen(t, other);
    const origin = createServer((req, res) => {
      seen.push({ host: "127.0.0.1", authorization: req.headers.authorization });
      if (req.headers.authorization !== expected) {
        res.writeHead(401).end();
        return;
      }
      if (req.url === "/moved") {
        res.writeHead(302, { location: `http://localhost:${otherPort}/data.bin` }).end();
        return;
      }
      serveIf(() => true)(req, res);
    });
    const port = await listen(t, origin);
    const netrc = join(dir, "netrc");
    await writeFile(netrc, "# test\nmachine 127.0.0.1 login bob password NETRCSECRET7\n", {
      mode: 0o600,
    });
    const result = await runCli(
      singlePair(`http://127.0.0.1:${port}/data.bin`, dir, "data.bin", "--netrc-file", netrc),
      { env: noProxyEnv },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.ok(await synced(dir));
    const moved = await runCli(
      singlePair(`http://127.0.0.1:${port}/moved`, dir, "moved.bin", "--netrc-file", netrc),
      { env: noProxyEnv },
    );
    assert.equal(moved.code, 0, moved.stderr);
    assert.deepEqual(
      seen.filter((s) => s.host === "localhost").map((s) => s.authorization),
      [undefined],
      "the other host got no credentials",
    );
    assert.ok(!(result.stderr + moved.stderr).includes("NETRCSECRET7"));
  });
});
