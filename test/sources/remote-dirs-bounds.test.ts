/**
 * Remote directories stay within their bounds whatever shape the tree has: refused links count
 * against the entry cap like any other entry, and a chain of folders thousands deep is walked in
 * time that grows with its size, not with the cube of its depth.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { findLog, intoArtifactRoot, runCli } from "../helpers/cli.js";
import { reportOf } from "../helpers/remote-tree.js";
import { tempDir } from "../helpers/tmp.js";

/** Chain folders under `/chain/`: each links the next one, DEPTH deep, names NAME_LENGTH long. */
const DEPTH = 1500;
const NAME_LENGTH = 40;
/** Junk folders: each of `/junk/N/` lists this many links whose names must be refused. */
const JUNK_PER_PAGE = 40_000;

let server: Server;
let base: string;
let requests = 0;

const page = (hrefs: string[]) =>
  `<html><body>${hrefs.map((href) => `<a href="${href}">x</a>`).join("\n")}</body></html>`;

before(async () => {
  server = createServer({ maxHeaderSize: 1024 * 1024 }, (request, response) => {
    requests += 1;
    const path = request.url ?? "/";
    response.setHeader("content-type", "text/html");
    if (path.startsWith("/chain/")) {
      const depth = path.split("/").length - 3;
      const name = String(depth).padEnd(NAME_LENGTH, "x");
      response.end(depth >= DEPTH ? page([]) : page([`${name}/`]));
    } else if (path === "/junk/") {
      response.end(page(["1/", "2/", "3/"]));
    } else if (/^\/junk\/\d\/$/.test(path)) {
      // A NUL in a name: refused, never requested, but reported, one pair each.
      response.end(page(Array.from({ length: JUNK_PER_PAGE }, (_, i) => `bad%00${i}.bin`)));
    } else {
      response.statusCode = 404;
      response.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("remote directories: bounds", () => {
  test("refused links count against the 100,000 entry cap: the source fails as a whole", {
    timeout: 120_000,
  }, async (t) => {
    const dir = await tempDir(t);
    const result = await runCli(intoArtifactRoot([`${base}/junk/`], dir, "--json"));
    assert.equal(result.code, 70, result.stderr.slice(-2000));
    const results = reportOf(result).results;
    assert.equal(results.length, 1, "one failed source, not a pair per refused link");
    assert.equal(results[0]?.error?.code, "invalid_source");
    assert.match(
      String(findLog(result, "synchronization failed")?.reason),
      /more than 100000 entries/,
    );
  });

  test("a chain of folders 1500 deep is walked without rebuilding every path above each folder", {
    timeout: 120_000,
  }, async (t) => {
    const dir = await tempDir(t);
    requests = 0;
    const started = performance.now();
    const result = await runCli(intoArtifactRoot([`${base}/chain/`], dir, "--dry-run", "--json"));
    const elapsed = performance.now() - started;
    t.diagnostic(`listed ${requests} pages in ${Math.round(elapsed)} ms`);
    assert.equal(requests, DEPTH + 1, result.stderr.slice(-2000));
    assert.ok(findLog(result, "listed directory"), result.stderr.slice(-2000));
    // Every path below the chain was built once per level (and once more per level for its
    // loop check): 1500 levels took over 30 s that way, and take well under 10 s now.
    assert.ok(elapsed < 25_000, `took ${Math.round(elapsed)} ms`);
  });
});
