/**
 * Link loops in remote directories: a folder listed again further down (a server following a
 * `loop -> ..` link) is recognised by what its page lists, whatever order that page lists it in
 * and wherever the page's footer falls.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { findLog, intoArtifactRoot, runCli } from "../helpers/cli.js";
import { reportOf } from "../helpers/remote-tree.js";
import { bytes, useTestServer } from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

const server = useTestServer();
const HTML = { "content-type": "text/html; charset=utf-8" };

/** An index page listing `entries` (name → size and date text) in that order, with a footer. */
function page(entries: Array<[string, string]>): Buffer {
  const rows = entries.map(
    ([name, info]) => `<tr><td><a href="${name}">${name}</a></td><td>${info}</td></tr>`,
  );
  return Buffer.from(
    `<html><body><table><tr><th><a href="?C=N;O=D">Name</a></th></tr>${rows.join("\n")}</table><address>Server at 127.0.0.1</address></body></html>`,
  );
}

describe("remote directories: link loops", () => {
  test("a folder listed again in another order is that folder again: skipped, nothing copied twice", async (t) => {
    const dir = await tempDir(t);
    const top: Array<[string, string]> = [
      ["a.txt", "07-Dec-2026 10:00 2"],
      ["sub/", "07-Dec-2026 10:00 -"],
    ];
    server.route("/lp/a.txt", { body: bytes(2, 701) });
    server.route("/lp/sub/b.txt", { body: bytes(3, 702) });
    server.route("/lp/", { body: page(top), headers: HTML });
    server.route("/lp/sub/", {
      body: page([
        ["b.txt", "07-Dec-2026 10:00 3"],
        ["loop/", "07-Dec-2026 10:00 -"],
      ]),
      headers: HTML,
    });
    // The loop's page, as a server sorting it the other way (Apache's `?C=N;O=D`) lists it.
    server.route("/lp/sub/loop/", { body: page([...top].reverse()), headers: HTML });
    const result = await runCli(intoArtifactRoot([server.url("/lp/")], dir, "--json"));
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    assert.equal(reportOf(result).summary.synced, 2);
    assert.deepEqual(await listFiles(join(dir, "out", "lp")), ["a.txt", "sub/b.txt"]);
    assert.match(String(findLog(result, "skipped folder")?.folder), /\/lp\/sub\/loop\/$/);
    assert.equal(server.requestsFor("/lp/sub/loop/sub/").length, 0, "the loop is not walked");
  });

  test("a folder whose page lists other sizes or dates is another folder: copied", async (t) => {
    const dir = await tempDir(t);
    server.route("/nl/a.txt", { body: bytes(2, 703) });
    server.route("/nl/sub/a.txt", { body: bytes(4, 704) });
    server.route("/nl/", {
      body: page([
        ["a.txt", "07-Dec-2026 10:00 2"],
        ["sub/", "07-Dec-2026 10:00 -"],
      ]),
      headers: HTML,
    });
    server.route("/nl/sub/", {
      body: page([
        ["sub/", "07-Dec-2026 10:00 -"],
        ["a.txt", "07-Dec-2026 10:00 4"],
      ]),
      headers: HTML,
    });
    server.route("/nl/sub/sub/", { body: page([]), headers: HTML });
    const result = await runCli(intoArtifactRoot([server.url("/nl/")], dir, "--json"));
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    assert.deepEqual(await listFiles(join(dir, "out", "nl")), ["a.txt", "sub/a.txt"]);
    assert.equal(findLog(result, "skipped folder"), undefined);
  });

  test("a folder listing the same names with the sizes swapped between them is another folder: copied", async (t) => {
    const dir = await tempDir(t);
    server.route("/sw/a.csv", { body: bytes(2, 705) });
    server.route("/sw/b.csv", { body: bytes(3, 706) });
    server.route("/sw/sub/a.csv", { body: bytes(3, 707) });
    server.route("/sw/sub/b.csv", { body: bytes(2, 708) });
    server.route("/sw/", {
      body: page([
        ["a.csv", "07-Dec-2026 10:00 2"],
        ["b.csv", "07-Dec-2026 10:00 3"],
        ["sub/", "07-Dec-2026 10:00 -"],
      ]),
      headers: HTML,
    });
    server.route("/sw/sub/", {
      body: page([
        ["a.csv", "07-Dec-2026 10:00 3"],
        ["b.csv", "07-Dec-2026 10:00 2"],
        ["sub/", "07-Dec-2026 10:00 -"],
      ]),
      headers: HTML,
    });
    server.route("/sw/sub/sub/", { body: page([]), headers: HTML });
    const result = await runCli(intoArtifactRoot([server.url("/sw/")], dir, "--json"));
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    assert.deepEqual(await listFiles(join(dir, "out", "sw")), [
      "a.csv",
      "b.csv",
      "sub/a.csv",
      "sub/b.csv",
    ]);
    assert.equal(findLog(result, "skipped folder"), undefined);
  });
});
