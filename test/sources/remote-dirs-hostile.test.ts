/**
 * Remote directories against hostile and broken index pages, served by the scripted test server:
 * links that try to leave the directory, names that must not become files, pages too big or too
 * long, redirects away, indexes that are missing or not HTML, credentials that must follow the
 * files below and never show, and folders the server refuses.
 */
import assert from "node:assert/strict";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { findLog, intoArtifactRoot, runCli } from "../helpers/cli.js";
import { reportOf } from "../helpers/remote-tree.js";
import { bytes, TestServer, useTestServer } from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

const server = useTestServer();
const HTML = { "content-type": "text/html; charset=utf-8" };

/** Serves `html` as the index page at `path` (which ends in `/`). */
function index(path: string, html: string): void {
  server.route(path, { body: Buffer.from(html), headers: HTML });
}

const links = (...hrefs: string[]) =>
  `<!doctype html><html><body>${hrefs.map((href) => `<a href="${href}">x</a>`).join("\n")}</body></html>`;

describe("remote directories: hostile index pages", () => {
  test("links that leave the directory are not followed; unsafe names fail touching nothing; the rest syncs", async (t) => {
    const dir = await tempDir(t);
    const other = `http://localhost:${new URL(server.url("/")).port}`;
    server.route("/h/secret.bin", { body: bytes(10, 601) });
    server.route("/h/dir/ok.bin", { body: bytes(5000, 602) });
    server.route("/h/dir/both/inner.bin", { body: bytes(100, 603) });
    server.route("/h/dir/solo/deep.bin", { body: bytes(100, 615) });
    index("/h/dir/both/", links("inner.bin"));
    const unsafe = [
      "..%2F..%2Fescaped.bin",
      "evil%00.bin",
      "new%0Aline.bin",
      "%ff.bin",
      ".x.0123456789abcdef.resilient-sync.part",
      "a//b.bin",
    ];
    index(
      "/h/dir/",
      `<html><head><base href="${other}/elsewhere/"></head><body>${links(
        "../secret.bin",
        "%2e%2e/secret.bin",
        "sub/%2e%2e/%2E%2E/secret.bin",
        "/h/secret.bin",
        `${other}/h/dir/ok.bin`,
        "//localhost/h/dir/ok.bin",
        "javascript:alert(1)",
        "data:text/plain,x",
        "mailto:a@example.com",
        "file:///etc/passwd",
        "?C=N;O=D",
        "#top",
        "./",
        "ok.bin",
        "ok.bin#again",
        "both",
        "both/",
        "solo",
        "solo/deep.bin",
        ...unsafe,
      )}</body></html>`,
    );
    const result = await runCli(intoArtifactRoot([server.url("/h/dir/")], dir, "--json"));
    assert.equal(result.code, 1, result.stderr.slice(-2000));
    const report = reportOf(result);
    const byStatus = report.results.map((r) => [
      r.status,
      r.error?.code ?? null,
      r.destination.slice(join(dir, "out").length),
    ]);
    assert.deepEqual(
      byStatus.filter(([status]) => status === "synced").map(([, , d]) => d),
      ["/dir/both/inner.bin", "/dir/ok.bin", "/dir/solo/deep.bin"],
    );
    const refused = report.results.filter((r) => r.status === "failed");
    // The unsafe names, and `both` and `solo`, which are folders as well as files.
    assert.equal(refused.length, unsafe.length + 2, JSON.stringify(byStatus));
    assert.ok(refused.every((r) => r.error?.code === "invalid_source"));
    assert.deepEqual(await listFiles(join(dir, "out")), [
      "dir/both/inner.bin",
      "dir/ok.bin",
      "dir/solo/deep.bin",
    ]);
    const asked = server.requests.map((r) => r.path).filter((path) => path.startsWith("/h/"));
    assert.deepEqual(
      [...new Set(asked)].sort(),
      ["/h/dir/", "/h/dir/both/", "/h/dir/both/inner.bin", "/h/dir/ok.bin", "/h/dir/solo/deep.bin"],
      "nothing asked outside the directory, nor for a refused name",
    );
    assert.equal(server.requestsFor("/h/dir/ok.bin").length, 1, "one link, however written");
  });

  test("unsafe names --pattern or --max-depth leaves out fail nothing; those it would take are refused", async (t) => {
    const dir = await tempDir(t);
    server.route("/u/dir/ok.csv", { body: bytes(10, 620) });
    index(
      "/u/dir/",
      links("ok.csv", "b%5Cad.txt", "new%0Aline.txt", "deep/x%00.csv", "bad%0A.csv", "w%5C/"),
    );
    const narrowed = await runCli(
      intoArtifactRoot([server.url("/u/dir/")], join(dir, "n"), "--pattern", "*.csv", "--json"),
    );
    assert.equal(narrowed.code, 1, narrowed.stderr.slice(-2000));
    assert.deepEqual(
      reportOf(narrowed).results.map((r) => [r.status, r.error?.code ?? null]),
      [
        ["synced", null],
        ["failed", "invalid_source"],
        ["failed", "invalid_source"],
      ],
      "ok.csv, and bad%0A.csv and the folder w%5C/, which it would take or enter",
    );
    const shallow = await runCli(
      intoArtifactRoot(
        [server.url("/u/dir/")],
        join(dir, "s"),
        "--pattern",
        "*.csv",
        "--max-depth",
        "1",
        "--json",
      ),
    );
    assert.equal(shallow.code, 1, shallow.stderr.slice(-2000));
    assert.equal(reportOf(shallow).summary.failed, 1, "bad%0A.csv alone");
    // Judged by its decoded name: a pattern written for it takes it, and it is refused.
    index("/u/rep/", links("ok.csv", "report%202024%01.csv"));
    const report = await runCli(
      intoArtifactRoot(
        [server.url("/u/rep/")],
        join(dir, "r"),
        "--pattern",
        "report 2024*",
        "--json",
      ),
    );
    assert.equal(report.code, 70, report.stderr.slice(-2000));
    assert.deepEqual(
      reportOf(report).results.map((r) => [r.status, r.error?.code ?? null]),
      [["failed", "invalid_source"]],
    );
    const none = await runCli(
      intoArtifactRoot(
        [server.url("/u/dir/")],
        join(dir, "z"),
        "--pattern",
        "*.json",
        "--max-depth",
        "1",
        "--json",
      ),
    );
    assert.equal(none.code, 0, none.stderr.slice(-2000));
    assert.ok(findLog(none, "directory matched no files"), none.stdout.slice(-2000));
  });

  test("a 50,000-link page is read at once; --pattern takes what it asks for", {
    timeout: 60_000,
  }, async (t) => {
    const dir = await tempDir(t);
    const names = Array.from({ length: 50_000 }, (_, i) => `f${i}.bin`);
    index("/big/dir/", links(...names));
    for (let i = 12340; i < 12350; i += 1)
      server.route(`/big/dir/f${i}.bin`, { body: bytes(10, i) });
    const started = performance.now();
    const result = await runCli(
      intoArtifactRoot([server.url("/big/dir/")], dir, "--pattern", "f1234?.bin", "--json"),
    );
    t.diagnostic(`planned and synced in ${Math.round(performance.now() - started)} ms`);
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    assert.equal(reportOf(result).summary.synced, 10);
    assert.equal(server.requests.filter((r) => r.path.startsWith("/big/")).length, 11);
  });

  test("a page listing more than 100,000 entries fails as a whole, asking for none of them", {
    timeout: 60_000,
  }, async (t) => {
    const dir = await tempDir(t);
    index("/huge/dir/", links(...Array.from({ length: 100_001 }, (_, i) => `f${i}`)));
    const result = await runCli(intoArtifactRoot([server.url("/huge/dir/")], dir, "--json"));
    assert.equal(result.code, 70, result.stderr.slice(-2000));
    const [only, ...rest] = reportOf(result).results;
    assert.deepEqual(rest, []);
    assert.equal(only?.error?.code, "invalid_source");
    assert.match(
      String(findLog(result, "synchronization failed")?.reason),
      /more than 100000 entries/,
    );
    assert.deepEqual(
      server.requests.filter((r) => r.path.startsWith("/huge/")).map((r) => r.path),
      ["/huge/dir/"],
    );
    assert.equal(await stat(join(dir, "out")).catch(() => undefined), undefined, "nothing written");
  });

  test("an index larger than 16 MiB is refused without reading on", async (t) => {
    const dir = await tempDir(t);
    const body = Buffer.alloc(17 * 1024 * 1024, " ");
    body.write("<html><body><a href='x.bin'>x</a>");
    server.route("/fat/dir/", { body, headers: HTML });
    const result = await runCli(intoArtifactRoot([server.url("/fat/dir/")], dir, "--json"));
    assert.equal(result.code, 70, result.stderr.slice(-2000));
    assert.match(String(findLog(result, "synchronization failed")?.reason), /larger than 16 MiB/);
    assert.equal(server.requestsFor("/fat/dir/").length, 1, "not retried");
    assert.equal(server.requestsFor("/fat/dir/x.bin").length, 0);
  });

  test("an index redirecting to another origin, or above the directory, is refused; within it, followed", async (t) => {
    const dir = await tempDir(t);
    const elsewhere = await TestServer.start();
    t.after(() => elsewhere.close());
    elsewhere.route("/dir/", { body: Buffer.from(links("x.bin")), headers: HTML });
    const away = Array.from({ length: 5 }, () => ({
      kind: "redirect" as const,
      location: elsewhere.url("/dir/"),
    }));
    server.route("/away/gone/", { body: Buffer.from(""), script: away });
    // Each source has a name of its own: two directories named alike are refused up front.
    server.route("/up/high/", {
      body: Buffer.from(""),
      script: [{ kind: "redirect", location: "/up/" }],
    });
    index("/up/", links("high/", "x.bin"));
    server.route("/in/dir/", {
      body: Buffer.from(links("real/")),
      headers: HTML,
    });
    server.route("/in/dir/real/", {
      body: Buffer.from(""),
      script: [{ kind: "redirect", location: "/in/dir/real/index.html" }],
    });
    index("/in/dir/real/index.html", links("file.bin"));
    server.route("/in/dir/real/file.bin", { body: bytes(300, 604) });

    const result = await runCli(
      intoArtifactRoot(
        [server.url("/away/gone/"), server.url("/up/high/"), server.url("/in/dir/")],
        dir,
        "--json",
      ),
    );
    assert.equal(result.code, 1, result.stderr.slice(-2000));
    const results = reportOf(result).results.map((r) => [r.status, r.error?.code ?? null]);
    assert.deepEqual(results, [
      ["failed", "http_error"],
      ["failed", "http_error"],
      ["synced", null],
    ]);
    const reasons = result.logs
      .filter((line) => line.message === "synchronization failed")
      .map((line) => String(line.reason));
    assert.ok(
      reasons.every((reason) => /refused redirect/.test(reason)),
      reasons.join("\n"),
    );
    assert.equal(elsewhere.requests.length, 0, "nothing asked of the other origin");
    assert.equal(server.requestsFor("/up/").length, 0, "nothing asked above the directory");
    assert.deepEqual(await listFiles(join(dir, "out")), ["dir/real/file.bin"]);
  });

  test("a missing index is not_found, one that is not HTML a clear error; nothing is written", async (t) => {
    const dir = await tempDir(t);
    server.route("/json/dir/", {
      body: Buffer.from("[]"),
      headers: { "content-type": "application/json" },
    });
    const result = await runCli(
      intoArtifactRoot([server.url("/missing/gone/"), server.url("/json/dir/")], dir, "--json"),
    );
    assert.equal(result.code, 70, result.stderr.slice(-2000));
    assert.deepEqual(
      reportOf(result).results.map((r) => r.error?.code),
      ["not_found", "invalid_source"],
    );
    const reasons = result.logs
      .filter((line) => line.message === "synchronization failed")
      .map((line) => String(line.reason));
    assert.match(reasons[0] as string, /HTTP 404: no directory index there/);
    assert.match(reasons[1] as string, /not a directory index \(Content-Type "application\/json"/);
    assert.equal(server.requestsFor("/missing/gone/").length, 1, "a 404 is not retried");
    assert.equal(await stat(join(dir, "out")).catch(() => undefined), undefined);
  });
});
