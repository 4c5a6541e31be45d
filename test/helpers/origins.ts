/**
 * Origins for the network tests: plain http ones that serve a fixed body only to the requests
 * they accept, https ones with self-signed certificates made by openssl (optionally demanding a
 * client certificate), and a runner whose every pair has state of its own.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { singlePair as pairIn } from "./cli.js";
import { bytes, sha256 } from "./server.js";

/** One pair whose state is its own: a refused run's circuit must not close the origin to the next. */
let runs = 0;
export const singlePair = (url: string, dir: string, destination: string, ...extra: string[]) => {
  runs += 1;
  return [...pairIn(url, dir, destination, ...extra), "--lock-dir", join(dir, `locks-${runs}`)];
};

export const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
export const BODY = bytes(50_000, 1010);

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Serves BODY at any path to requests `allow` accepts; 403 to the others. */
export const serveIf =
  (allow: (req: IncomingMessage) => boolean): Handler =>
  (req, res) => {
    if (!allow(req)) {
      res.writeHead(403).end("direct clients are refused");
      return;
    }
    res.writeHead(200, { "content-length": String(BODY.length), etag: '"v1"' }).end(BODY);
  };

export async function listen(
  t: TestContext,
  server: ReturnType<typeof createServer>,
): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

/** An http origin that answers only requests that came through the proxy `via` names (tinyproxy's by default). */
export async function proxiedOnlyOrigin(t: TestContext, via = /tinyproxy/): Promise<string> {
  const server = createServer(serveIf((req) => via.test(String(req.headers.via))));
  return `http://127.0.0.1:${await listen(t, server)}/data.bin`;
}

/** A self-signed certificate and key for 127.0.0.1, made by openssl. */
export function selfSigned(dir: string, name: string): { cert: string; key: string } {
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

export async function httpsOrigin(
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

export const noProxyEnv = {
  http_proxy: undefined,
  https_proxy: undefined,
  HTTP_PROXY: undefined,
  HTTPS_PROXY: undefined,
  all_proxy: undefined,
  ALL_PROXY: undefined,
  no_proxy: undefined,
  NO_PROXY: undefined,
};

export async function synced(dir: string): Promise<boolean> {
  return (
    sha256(await readFile(join(dir, "data.bin")).catch(() => Buffer.alloc(0))) === sha256(BODY)
  );
}
