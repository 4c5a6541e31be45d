/**
 * The names remote directories are mirrored under: two directory sources whose folders would be
 * one are refused up front, naming both; a name too long for any filesystem is refused at plan
 * time, before anything is asked of the server.
 */
import assert from "node:assert/strict";
import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { findLog, intoArtifactRoot, runCli } from "../helpers/cli.js";
import { reportOf } from "../helpers/remote-tree.js";
import { bytes, useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const server = useTestServer();
const HTML = { "content-type": "text/html; charset=utf-8" };

function index(path: string, hrefs: string[]): void {
  const html = `<html><body>${hrefs.map((h) => `<a href="${h}">${h}</a>`).join("")}</body></html>`;
  server.route(path, { body: Buffer.from(html), headers: HTML });
}

describe("remote directories: names", () => {
  test("two directory sources with one final name are refused, naming both, before any listing", async (t) => {
    const dir = await tempDir(t);
    index("/one/x/", ["a.bin"]);
    index("/two/x/", ["b.bin"]);
    server.route("/one/x/a.bin", { body: bytes(10, 1) });
    server.route("/two/x/b.bin", { body: bytes(10, 2) });
    const first = server.url("/one/x/");
    const second = server.url("/two/x/");
    const result = await runCli(intoArtifactRoot([first, second], dir, "--json"));
    assert.equal(result.code, 64, result.stderr.slice(-2000));
    assert.match(result.stderr, /two directory sources would be mirrored into one folder/);
    assert.ok(result.stderr.includes(first) && result.stderr.includes(second), result.stderr);
    assert.deepEqual(server.requests, [], "nothing listed");
    assert.equal(await stat(join(dir, "out")).catch(() => undefined), undefined);

    // A local folder of that name is the same folder.
    const local = join(dir, "src", "x");
    await mkdir(local, { recursive: true });
    const mixed = await runCli(intoArtifactRoot([local, first], dir, "--json"));
    assert.equal(mixed.code, 64, mixed.stderr.slice(-2000));
    assert.match(mixed.stderr, /into one folder/);
  });

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
