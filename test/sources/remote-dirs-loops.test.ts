/**
 * Link loops in remote directories: a folder listed again further down (a server following a
 * `loop -> ..` link) is recognised by what its page lists, also when the source's URL asked for
 * another order; a folder listing other sizes or dates is another folder.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
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
  test("a URL copied after clicking a sort column (?C=N;O=D): its index is read in the server's own order, and the loop back to it is skipped", async (t) => {
    const dir = await tempDir(t);
    // As Apache does: a listing in reverse order when asked `O=D`, each folder's page otherwise
    // in name order; `sub/loop/` is a link back to the top.
    const top: Array<[string, string]> = [
      ["a.txt", "07-Dec-2026 10:00 2"],
      ["sub/", "07-Dec-2026 10:00 -"],
    ];
    const pages: Record<string, Array<[string, string]>> = {
      "/lp/": top,
      "/lp/sub/": [
        ["b.txt", "07-Dec-2026 10:00 3"],
        ["loop/", "07-Dec-2026 10:00 -"],
      ],
      "/lp/sub/loop/": top,
    };
    const files: Record<string, Buffer> = {
      "/lp/a.txt": bytes(2, 701),
      "/lp/sub/b.txt": bytes(3, 702),
    };
    const asked: string[] = [];
    const apache = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      asked.push(`${url.pathname}${url.search}`);
      // As a server following the link does: `sub/loop/` is `/lp/` again, at any depth.
      const listing = pages[url.pathname.replace(/^\/lp\/(sub\/loop\/)+/, "/lp/")];
      if (listing) {
        const ordered = url.searchParams.get("C") === null ? listing : [...listing].reverse();
        res.writeHead(200, HTML).end(page(ordered));
      } else if (files[url.pathname]) res.writeHead(200).end(files[url.pathname]);
      else res.writeHead(404).end();
    });
    apache.listen(0, "127.0.0.1");
    await once(apache, "listening");
    t.after(() => apache.close());
    const origin = `http://127.0.0.1:${(apache.address() as AddressInfo).port}`;
    const result = await runCli(intoArtifactRoot([`${origin}/lp/?C=N;O=D`], dir, "--json"));
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    assert.equal(reportOf(result).summary.synced, 2);
    assert.deepEqual(await listFiles(join(dir, "out", "lp")), ["a.txt", "sub/b.txt"]);
    assert.match(String(findLog(result, "skipped folder")?.folder), /\/lp\/sub\/loop\/$/);
    assert.equal(asked[0], "/lp/", "the index asked without its sort options");
    assert.ok(!asked.includes("/lp/sub/loop/sub/"), "the loop is not walked");
    // Only its repeats are asked for, one step further down each time, to be sure of it.
    assert.equal(asked.filter((path) => path.startsWith("/lp/sub/loop/")).length, 8);
  });

  test("real folders listing alike for a few levels (pkg/pkg/pkg made in one minute) are walked, not taken for a loop", async (t) => {
    // nginx and Apache give dates to the minute and folders no size: each of these lists `pkg/`
    // exactly as the one above does. The whole tree was skipped, exit 0.
    const dir = await tempDir(t);
    const same = page([["pkg/", "07-Dec-2026 10:00 -"]]);
    for (const path of ["/rel/", "/rel/pkg/", "/rel/pkg/pkg/"])
      server.route(path, { body: same, headers: HTML });
    server.route("/rel/pkg/pkg/pkg/", {
      body: page([["data.txt", "07-Dec-2026 10:00 5"]]),
      headers: HTML,
    });
    server.route("/rel/pkg/pkg/pkg/data.txt", { body: bytes(5, 712) });
    const result = await runCli(intoArtifactRoot([server.url("/rel/")], dir, "--json"));
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    assert.deepEqual(await listFiles(join(dir, "out", "rel")), ["pkg/pkg/pkg/data.txt"]);
    assert.equal(findLog(result, "skipped folder"), undefined);
  });

  test("a loop link inside real folders that list alike is still a loop: skipped, the real file copied once", async (t) => {
    // `/t/`, `/t/x/`, `/t/x/x/` list `x/` and `up/` alike; `up` links to its own folder, as a
    // server following `up -> .` serves it. Found not to be a loop by the step `x`, the walk took
    // every repeat below for real, by any step: 10,489 pages and 1,869 copies of data.txt.
    const dir = await tempDir(t);
    const alike = page([
      ["x/", "07-Dec-2026 10:00 -"],
      ["up/", "07-Dec-2026 10:00 -"],
    ]);
    const asked: string[] = [];
    const looping = createServer((req, res) => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      asked.push(path);
      // The kernel's link limit: a server following `up` fails past 40 of them.
      if (path.split("/up/").length > 41) return res.writeHead(404).end();
      let real = path;
      while (real.includes("/up/")) real = real.replace("/up/", "/");
      if (real === "/t/" || real === "/t/x/" || real === "/t/x/x/")
        return res.writeHead(200, HTML).end(alike);
      if (real === "/t/x/x/x/")
        return res.writeHead(200, HTML).end(
          page([
            ["up/", "07-Dec-2026 10:00 -"],
            ["data.txt", "07-Dec-2026 10:00 4"],
          ]),
        );
      if (real === "/t/x/x/x/data.txt") return res.writeHead(200).end("data");
      res.writeHead(404).end();
    });
    looping.listen(0, "127.0.0.1");
    await once(looping, "listening");
    t.after(() => looping.close());
    const origin = `http://127.0.0.1:${(looping.address() as AddressInfo).port}`;
    const result = await runCli(intoArtifactRoot([`${origin}/t/`], dir, "--json"));
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    assert.deepEqual(await listFiles(join(dir, "out", "t")), ["x/x/x/data.txt"]);
    assert.ok(asked.length < 100, `${asked.length} requests`);

    // Folders whose own folders --max-depth leaves unwalked are not probed: nothing deeper
    // could be copied, so no page deeper is asked.
    asked.length = 0;
    const shallow = await runCli(
      intoArtifactRoot([`${origin}/t/`], join(dir, "shallow"), "--max-depth", "2"),
    );
    assert.equal(shallow.code, 0, shallow.stderr.slice(-2000));
    assert.deepEqual(asked.sort(), ["/t/", "/t/up/", "/t/x/"]);
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

  test("IIS's layout (date and size before each link): a folder with the same names and other dates is copied", async (t) => {
    const dir = await tempDir(t);
    const iis = (rows: Array<[string, string]>) =>
      Buffer.from(
        `<html><body><pre><A HREF="/">[To Parent Directory]</A><br><br>${rows
          .map(([info, name]) => ` ${info} <A HREF="${name}">${name}</A><br>`)
          .join("")}</pre><hr></body></html>`,
      );
    server.route("/iis/", {
      body: iis([
        ["7/1/2024 10:00 AM 111", "data.csv"],
        ["7/1/2024 10:00 AM &lt;dir&gt;", "old/"],
      ]),
      headers: HTML,
    });
    server.route("/iis/old/", {
      body: iis([
        ["6/1/2023 09:00 AM 222", "data.csv"],
        ["6/1/2023 09:00 AM &lt;dir&gt;", "old/"],
      ]),
      headers: HTML,
    });
    server.route("/iis/old/old/", { body: iis([["5/1/2022 08:00 AM 3", "x.csv"]]), headers: HTML });
    server.route("/iis/data.csv", { body: bytes(111, 709) });
    server.route("/iis/old/data.csv", { body: bytes(222, 710) });
    server.route("/iis/old/old/x.csv", { body: bytes(3, 711) });
    const result = await runCli(intoArtifactRoot([server.url("/iis/")], dir, "--json"));
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    assert.deepEqual(await listFiles(join(dir, "out", "iis")), [
      "data.csv",
      "old/data.csv",
      "old/old/x.csv",
    ]);
    assert.equal(findLog(result, "skipped folder"), undefined);
  });
});
