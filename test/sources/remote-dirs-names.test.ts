/**
 * The names remote directories are mirrored under: two directory sources whose folders would be
 * one are refused up front, naming both; a name too long for any filesystem is refused at plan
 * time, before anything is asked of the server.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { findLog, intoArtifactRoot, runCli } from "../helpers/cli.js";
import { reportOf } from "../helpers/remote-tree.js";
import { useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const server = useTestServer();
const HTML = { "content-type": "text/html; charset=utf-8" };

function index(path: string, hrefs: string[]): void {
  const html = `<html><body>${hrefs.map((h) => `<a href="${h}">${h}</a>`).join("")}</body></html>`;
  server.route(path, { body: Buffer.from(html), headers: HTML });
}

describe("remote directories: names", () => {
  test("a directory name longer than 255 bytes is refused at plan time, asking nothing", async (t) => {
    const dir = await tempDir(t);
    const long = "é".repeat(128); // 256 bytes of UTF-8
    const result = await runCli(
      intoArtifactRoot([server.url(`/${encodeURIComponent(long)}/`)], dir, "--json"),
    );
    assert.equal(result.code, 70, result.stderr.slice(-2000));
    const [only, ...rest] = reportOf(result).results;
    assert.deepEqual(rest, []);
    assert.equal(only?.error?.code, "invalid_source");
    assert.match(
      String(findLog(result, "synchronization failed")?.reason),
      /longer than 255 bytes/,
    );
    assert.deepEqual(server.requests, []);
  });
});
