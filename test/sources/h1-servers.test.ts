/**
 * The HTTP/1.1 client (h1/) against real web servers, each started on 127.0.0.1 from its own
 * binary: nginx (and nginx over TLS with a self-signed certificate), Apache, lighttpd, and
 * python's http.server as HTTP/1.0 (a connection per answer, no Range), as HTTP/1.1 (keep-alive,
 * `100 Continue`) and as a CGI server (a body delimited by the close). Against each: a file whole
 * and twice (keep-alive where the server keeps connections), HEAD and then a GET on the same
 * connection, a resume (Range, 206), a directory listing (chunked from nginx and Apache, with a
 * trailer from nginx) compared with what Node's own fetch gets, and a redirect. The synthetic
 * servers of h1-client.test.ts cover what no real server does on purpose (faults, cuts, stalls).
 * A server that is not installed is skipped, saying so.
 */
import assert from "node:assert/strict";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { startNginx } from "../../bench/lib/nginx.js";
import { HttpClient } from "../../src/sources/http/client.js";
import { describeHttpError } from "../../src/sources/http/errors.js";
import { H1Agent } from "../../src/sources/http/h1/agent.js";
import type { H1Body } from "../../src/sources/http/h1/body.js";
import { selfSigned } from "../helpers/origins.js";
import { freePort } from "../helpers/proxy.js";
import { bytes } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";
import {
  APACHE,
  LIGHTTPD,
  NGINX,
  PYTHON,
  skipReason,
  startApache,
  startLighttpd,
  startPythonServer,
  type WebServer,
} from "../helpers/web-servers.js";

const FILE = bytes(3 * 1024 * 1024 + 17, 501);
const RESUME_AT = 1_000_001;
const ENTRIES = 300;
const entry = (i: number) => `entry-${i}-${"x".repeat(40)}.txt`;
const never = () => new AbortController().signal;

/** A served tree: the file, a folder (listed by the server), and its owner's dir readable by all. */
async function servedTree(
  t: import("node:test").TestContext,
): Promise<{ dir: string; root: string }> {
  const dir = await tempDir(t);
  // Servers started as root serve as nobody: the path down to the files must be readable.
  await chmod(dir, 0o755);
  const root = join(dir, "www");
  await mkdir(join(root, "sub"), { recursive: true });
  await writeFile(join(root, "file.bin"), FILE);
  // Enough entries that Apache's listing outgrows its buffer and goes out chunked.
  for (let i = 0; i < ENTRIES; i += 1) await writeFile(join(root, "sub", entry(i)), `${i}`);
  return { dir, root };
}

/** One request on `agent`. */
function get(agent: H1Agent, url: string, headers: Record<string, string> = {}) {
  return agent.request(new URL(url), { method: "GET", headers, signal: never() });
}

/** Reads a lent body whole: a copy of its bytes, each chunk released at once. */
function lendAll(body: H1Body): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) =>
    body.lend({
      chunk(chunk, release) {
        chunks.push(Buffer.from(chunk));
        release();
      },
      end: () => resolve(Buffer.concat(chunks)),
      error: reject,
    }),
  );
}

interface Expect {
  /** Whether the server keeps a connection for the next request. */
  keepAlive: boolean;
  /** Whether it answers a Range with 206 (python's http.server sends the whole file). */
  ranges: boolean;
  /** Whether its directory listing comes chunked. */
  chunkedListing: boolean;
}

/** What every server is put through, on one agent (so that keep-alive can be seen). */
async function exercise(
  t: import("node:test").TestContext,
  server: WebServer,
  expect: Expect,
  agent = new H1Agent({ timeoutMs: 10_000 }),
): Promise<void> {
  t.after(() => agent.close());
  const url = (path: string) => new URL(server.url(path));
  const send = (path: string, method: "GET" | "HEAD" = "GET", headers = {}) =>
    agent.request(url(path), { method, headers, signal: never() });
  const opened = () => agent.poolOf(url("/"))?.openedConnections ?? 0;

  // The file, twice: byte for byte, on one connection if the server keeps it.
  for (let i = 0; i < 2; i += 1) {
    const response = await send("/file.bin");
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers["content-length"], String(FILE.length));
    assert.ok((await lendAll(response.body)).equals(FILE), "the file, byte for byte");
  }
  assert.equal(opened(), expect.keepAlive ? 1 : 2, "connections for two GETs");

  // HEAD: no body, whatever its Content-Length says; the GET after it reads a clean answer.
  const head = await send("/file.bin", "HEAD");
  assert.equal(head.statusCode, 200);
  assert.equal(head.headers["content-length"], String(FILE.length));
  assert.equal((await lendAll(head.body)).length, 0);
  const afterHead = await send("/file.bin");
  assert.ok((await lendAll(afterHead.body)).equals(FILE), "a GET after the HEAD");

  // A resume.
  const ranged = await send("/file.bin", "GET", { range: `bytes=${RESUME_AT}-` });
  if (expect.ranges) {
    assert.equal(ranged.statusCode, 206);
    assert.equal(
      ranged.headers["content-range"],
      `bytes ${RESUME_AT}-${FILE.length - 1}/${FILE.length}`,
    );
    assert.ok((await lendAll(ranged.body)).equals(FILE.subarray(RESUME_AT)), "the tail");
  } else {
    assert.equal(ranged.statusCode, 200);
    assert.ok((await lendAll(ranged.body)).equals(FILE), "the whole file instead");
  }

  // A generated listing: as Node's fetch (undici) reads it.
  const listing = await send("/sub/");
  assert.equal(listing.statusCode, 200);
  assert.equal(listing.headers["transfer-encoding"] === "chunked", expect.chunkedListing);
  const ours = await lendAll(listing.body);
  const theirs = Buffer.from(await (await fetch(server.url("/sub/"))).arrayBuffer());
  assert.ok(ours.toString().includes(entry(ENTRIES - 1)), "the whole listing");
  assert.ok(ours.equals(theirs), "the listing as fetch reads it");
  // And the connection is still good after it (a chunked body read to its last CRLF).
  assert.ok((await lendAll((await send("/file.bin")).body)).equals(FILE));
  if (expect.keepAlive) assert.equal(opened(), 1, "one connection for everything");

  // A redirect (folder without its slash), followed by HttpClient.
  const client = await HttpClient.create({
    timeoutMs: 10_000,
    headers: {},
    userAgent: "test",
    now: Date.now,
  });
  try {
    const { response, url: final } = await client.get(server.url("/sub"), {}, never());
    assert.equal(response.engine, "h1");
    assert.equal(response.statusCode, 200);
    assert.equal(final.pathname, "/sub/");
    await lendAll(response.body as H1Body);
  } finally {
    await client.close();
  }
}

describe("h1 against real servers", () => {
  test("nginx: keep-alive, HEAD, Range, chunked bodies with trailers, a redirect", {
    skip: skipReason(NGINX, "nginx", "nginx-light"),
  }, async (t) => {
    const { root } = await servedTree(t);
    const nginx = await startNginx(root, NGINX, {
      // A trailer on the listings, and on the file under /trailed/ (which makes it chunked).
      server: `autoindex on;
        location /sub/ { add_trailer X-Listing done always; }
        location /trailed/ { alias ${root}/; add_trailer X-Whole yes always; }`,
    });
    t.after(() => nginx.stop());
    const agent = new H1Agent({ timeoutMs: 10_000 });
    await exercise(t, nginx, { keepAlive: true, ranges: true, chunkedListing: true }, agent);
    for (let i = 0; i < 2; i += 1) {
      const trailed = await get(agent, nginx.url("/trailed/file.bin"));
      assert.equal(trailed.headers["transfer-encoding"], "chunked");
      assert.ok((await lendAll(trailed.body)).equals(FILE), "a chunked file, then its trailer");
    }
    assert.equal(agent.poolOf(new URL(nginx.url("/")))?.openedConnections, 1, "kept alive");
  });

  test("nginx over TLS, self-signed: refused without its CA, then everything with it", {
    skip: skipReason(NGINX, "nginx", "nginx-light"),
  }, async (t) => {
    const { dir, root } = await servedTree(t);
    const { cert, key } = selfSigned(dir, "nginx");
    const port = await freePort();
    const nginx = await startNginx(root, NGINX, {
      http: `server {
        listen 127.0.0.1:${port} ssl;
        root ${root};
        autoindex on;
        ssl_certificate ${cert};
        ssl_certificate_key ${key};
      }`,
    });
    t.after(() => nginx.stop());
    const tls: WebServer = { url: (path) => `https://127.0.0.1:${port}${path}`, stop: nginx.stop };

    const strict = new H1Agent({ timeoutMs: 10_000 });
    t.after(() => strict.close());
    const refused = await get(strict, tls.url("/file.bin")).then(
      () => undefined,
      (error) => describeHttpError(error, "nginx"),
    );
    assert.match(
      String(refused?.message),
      /TLS certificate refused \(DEPTH_ZERO_SELF_SIGNED_CERT\)/,
    );
    assert.equal(refused?.retryable, false);

    const ca = await readFile(cert, "utf8");
    const agent = new H1Agent({ timeoutMs: 10_000, tls: { ca, rejectUnauthorized: true } });
    const response = await get(agent, tls.url("/file.bin"));
    assert.ok((await lendAll(response.body)).equals(FILE), "the file over TLS");
    const again = await get(agent, tls.url("/file.bin"), { range: `bytes=${RESUME_AT}-` });
    assert.equal(again.statusCode, 206);
    assert.ok((await lendAll(again.body)).equals(FILE.subarray(RESUME_AT)));
    assert.equal(agent.poolOf(new URL(tls.url("/")))?.openedConnections, 1, "kept alive");
    const listing = await get(agent, tls.url("/sub/"));
    assert.equal(listing.headers["transfer-encoding"], "chunked");
    assert.ok((await lendAll(listing.body)).toString().includes(entry(ENTRIES - 1)));
    await agent.close();
  });

  test("Apache: keep-alive, HEAD, Range, a chunked listing, a redirect", {
    skip: skipReason(APACHE, "apache2", "apache2"),
  }, async (t) => {
    const { root } = await servedTree(t);
    const apache = await startApache(APACHE as string, root);
    t.after(() => apache.stop());
    await exercise(t, apache, { keepAlive: true, ranges: true, chunkedListing: true });
  });

  test("lighttpd: keep-alive, HEAD, Range, a listing, a redirect", {
    skip: skipReason(LIGHTTPD, "lighttpd", "lighttpd"),
  }, async (t) => {
    const { root } = await servedTree(t);
    const lighttpd = await startLighttpd(LIGHTTPD as string, root);
    t.after(() => lighttpd.stop());
    await exercise(t, lighttpd, { keepAlive: true, ranges: true, chunkedListing: false });
  });

  test("python's http.server as HTTP/1.0: a connection per answer, no Range", {
    skip: skipReason(PYTHON, "python3", "python3"),
  }, async (t) => {
    const { root } = await servedTree(t);
    const python = await startPythonServer(PYTHON as string, root);
    t.after(() => python.stop());
    await exercise(t, python, { keepAlive: false, ranges: false, chunkedListing: false });
  });

  test("python's http.server as HTTP/1.1: keep-alive, and a 100 Continue skipped", {
    skip: skipReason(PYTHON, "python3", "python3"),
  }, async (t) => {
    const { root } = await servedTree(t);
    const python = await startPythonServer(PYTHON as string, root, ["--protocol", "HTTP/1.1"]);
    t.after(() => python.stop());
    const agent = new H1Agent({ timeoutMs: 10_000 });
    // Asked with Expect: 100-continue, python answers `100 Continue` before the answer.
    const response = await get(agent, python.url("/file.bin"), { expect: "100-continue" });
    assert.equal(response.statusCode, 200);
    assert.ok((await lendAll(response.body)).equals(FILE), "the answer after the 100");
    await exercise(t, python, { keepAlive: true, ranges: false, chunkedListing: false }, agent);
  });

  test("python's CGI server: a body delimited by the close of the connection", {
    skip: skipReason(PYTHON, "python3", "python3"),
  }, async (t) => {
    const { root } = await servedTree(t);
    await mkdir(join(root, "cgi-bin"));
    const script = join(root, "cgi-bin", "body.sh");
    // No Content-Length: python's CGI answers are HTTP/1.0, so the close ends the body.
    await writeFile(
      script,
      `#!/bin/sh\nprintf 'Content-Type: application/octet-stream\\r\\n\\r\\n'\nexec cat ${join(root, "file.bin")}\n`,
    );
    await chmod(script, 0o755);
    const python = await startPythonServer(PYTHON as string, root, ["--cgi"]);
    t.after(() => python.stop());
    const agent = new H1Agent({ timeoutMs: 10_000 });
    t.after(() => agent.close());
    for (let i = 0; i < 3; i += 1) {
      const response = await get(agent, python.url("/cgi-bin/body.sh"));
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers["content-length"], undefined);
      assert.equal(response.headers["transfer-encoding"], undefined);
      assert.ok((await lendAll(response.body)).equals(FILE), `run ${i}: the body to the close`);
    }
    assert.equal(agent.poolOf(new URL(python.url("/")))?.openedConnections, 3);
  });
});
