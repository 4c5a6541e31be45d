/**
 * A remote directory is listed with the run's own HTTP client: its index pages go through the
 * same proxy (a real tinyproxy) and carry the same `--header` values as its files. Skipped, saying
 * why, without tinyproxy (`.ci/run` installs it).
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { join } from "node:path";
import { describe, test } from "node:test";
import { intoArtifactRoot, runCli } from "../helpers/cli.js";
import { listen, noProxyEnv } from "../helpers/origins.js";
import { hasTinyproxy, Tinyproxy } from "../helpers/proxy.js";
import { tempDir } from "../helpers/tmp.js";

describe("remote directories and the network settings", {
  skip: hasTinyproxy ? false : "tinyproxy is not installed",
}, () => {
  test("index pages and files alike go through the proxy with --header; nothing goes direct", async (t) => {
    const dir = await tempDir(t);
    const seen: Array<{ path: string; proxied: boolean; header: boolean }> = [];
    const origin = createServer((req, res) => {
      const proxied = /tinyproxy/.test(String(req.headers.via));
      const header = req.headers["x-token"] === "t0k3n";
      seen.push({ path: String(req.url), proxied, header });
      if (!proxied || !header) res.writeHead(403).end("proxy and header required");
      else if (req.url === "/pub/")
        res.writeHead(200, { "content-type": "text/html" }).end('<a href="sub/">sub/</a>');
      else if (req.url === "/pub/sub/")
        res.writeHead(200, { "content-type": "text/html" }).end('<a href="f.bin">f.bin</a>');
      else if (req.url === "/pub/sub/f.bin") res.writeHead(200, { etag: '"1"' }).end("payload");
      else res.writeHead(404).end();
    });
    const port = await listen(t, origin);
    const proxy = await Tinyproxy.start(dir);
    t.after(() => proxy.stop());
    const result = await runCli(
      intoArtifactRoot([`http://127.0.0.1:${port}/pub/`], dir, "--header", "X-Token: t0k3n"),
      { env: { ...noProxyEnv, http_proxy: proxy.url } },
    );
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    assert.equal(await readFile(join(dir, "out", "pub", "sub", "f.bin"), "utf8"), "payload");
    assert.deepEqual(
      seen.map((request) => request.path),
      ["/pub/", "/pub/sub/", "/pub/sub/f.bin"],
    );
    assert.ok(
      seen.every((request) => request.proxied && request.header),
      JSON.stringify(seen),
    );
  });
});
