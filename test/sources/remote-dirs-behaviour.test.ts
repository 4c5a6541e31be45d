/**
 * Remote directories as a user meets them, served by the scripted test server: credentials that
 * follow the files below and never show, folders the server refuses, transient and "slow down"
 * answers, an open circuit, the deadline and an interrupt while listing, `--source-url` with
 * `--destination`, a server's root, files gone from the server, and `--max-depth` refused.
 */
import assert from "node:assert/strict";
import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CliProcess, findLog, intoArtifactRoot, runCli } from "../helpers/cli.js";
import { reportOf } from "../helpers/remote-tree.js";
import { bytes, sha256, TestServer, useTestServer } from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

const server = useTestServer();
const HTML = { "content-type": "text/html; charset=utf-8" };

/** Serves `html` as the index page at `path` (which ends in `/`). */
function index(path: string, html: string): void {
  server.route(path, { body: Buffer.from(html), headers: HTML });
}

const links = (...hrefs: string[]) =>
  `<!doctype html><html><body>${hrefs.map((href) => `<a href="${href}">x</a>`).join("\n")}</body></html>`;

describe("remote directories: behaviour", () => {
  test("the directory's credentials go to every file below it and never into logs or the report", async (t) => {
    const dir = await tempDir(t);
    index(
      "/auth/dir/",
      links("a.bin", `http://other:pw@127.0.0.1:${new URL(server.url("/")).port}/auth/dir/b.bin`),
    );
    server.route("/auth/dir/a.bin", { body: bytes(2000, 605) });
    server.route("/auth/dir/b.bin", { body: bytes(2000, 606) });
    const url = server.url("/auth/dir/").replace("http://", "http://user:s3cret-pw@");
    const args = intoArtifactRoot([url], dir, "--json");
    const first = await runCli(args);
    assert.equal(first.code, 0, first.stderr.slice(-2000));
    const basic = `Basic ${Buffer.from("user:s3cret-pw").toString("base64")}`;
    for (const path of ["/auth/dir/", "/auth/dir/a.bin", "/auth/dir/b.bin"]) {
      assert.deepEqual(
        server.requestsFor(path).map((r) => r.headers.authorization),
        [basic],
        path,
      );
    }
    const second = await runCli(args);
    assert.equal(reportOf(second).summary.unchanged, 2);
    for (const output of [first.stdout, first.stderr, second.stdout, second.stderr]) {
      assert.ok(!output.includes("s3cret-pw"), "the password never shows");
    }
  });

  test("a folder the server refuses fails on its own; a transient 503 is retried; the rest is mirrored", async (t) => {
    const dir = await tempDir(t);
    server.route("/p/dir/", {
      body: Buffer.from(links("ok.bin", "locked/", "flaky/")),
      headers: HTML,
    });
    server.route("/p/dir/ok.bin", { body: bytes(100, 607) });
    server.route("/p/dir/locked/", {
      body: Buffer.from(""),
      script: [{ kind: "status", status: 403 }],
    });
    server.route("/p/dir/flaky/", {
      body: Buffer.from(links("f.bin")),
      headers: HTML,
      script: [
        { kind: "status", status: 503 },
        { kind: "status", status: 503 },
      ],
    });
    server.route("/p/dir/flaky/f.bin", { body: bytes(100, 608) });
    const result = await runCli(intoArtifactRoot([server.url("/p/dir/")], dir, "--json"));
    assert.equal(result.code, 1, result.stderr.slice(-2000));
    const results = reportOf(result).results.map((r) => [
      r.destination.slice(join(dir, "out").length),
      r.status,
      r.error?.code ?? null,
    ]);
    assert.deepEqual(results, [
      ["/dir/flaky/f.bin", "synced", null],
      ["/dir/ok.bin", "synced", null],
      ["/dir/locked", "failed", "http_error"],
    ]);
    assert.equal(server.requestsFor("/p/dir/flaky/").length, 3);
    assert.equal(server.requestsFor("/p/dir/locked/").length, 1, "a 403 is not retried");
    assert.equal(result.logs.filter((l) => l.message === "index request failed").length, 3);
  });

  test("an index answered 429 is asked again at the pace the origin sets, without using up --max-retries (but 1 is one attempt)", async (t) => {
    const dir = await tempDir(t);
    server.route("/once/dir/", {
      body: Buffer.from(links("s.bin")),
      headers: HTML,
      script: [{ kind: "status" as const, status: 429, headers: { "retry-after": "1" } }],
    });
    const once = await runCli(
      intoArtifactRoot([server.url("/once/dir/")], dir, "--max-retries", "1"),
    );
    assert.equal(once.code, 70, "--max-retries 1: one request, whatever it is answered");
    assert.deepEqual(
      server.requestsFor("/once/dir/").map((r) => r.status),
      [429],
    );
    server.route("/slow/dir/", {
      body: Buffer.from(links("s.bin")),
      headers: HTML,
      script: Array.from({ length: 3 }, () => ({
        kind: "status" as const,
        status: 429,
        headers: { "retry-after": "1" },
      })),
    });
    server.route("/slow/dir/s.bin", { body: bytes(100, 614) });
    const result = await runCli(
      intoArtifactRoot([server.url("/slow/dir/")], dir, "--max-retries", "2", "--json"),
    );
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    assert.deepEqual(
      server.requestsFor("/slow/dir/").map((r) => r.status),
      [429, 429, 429, 200],
    );
    const delays = result.logs
      .filter((line) => line.message === "index request failed")
      .map((line) => line.delay_ms);
    assert.equal(delays.length, 3);
    assert.ok(
      delays.every((ms) => typeof ms === "number" && ms >= 1),
      "Retry-After is waited",
    );
  });

  test("an origin whose circuit is open is not asked for its index", async (t) => {
    const dir = await tempDir(t);
    const dead = await TestServer.start();
    t.after(() => dead.close());
    dead.route("/file.bin", {
      body: bytes(10),
      script: Array.from({ length: 10 }, () => ({ kind: "status" as const, status: 503 })),
    });
    const state = ["--lock-dir", join(dir, "l"), "--artifact-root", join(dir, "out")];
    const opened = await runCli([dead.url("/file.bin"), "--max-retries", "2", ...state]);
    assert.ok(findLog(opened, "circuit breaker opened"), opened.stderr.slice(-2000));
    const asked = dead.requests.length;
    const result = await runCli([dead.url("/dir/"), ...state, "--json"]);
    assert.equal(result.code, 75, result.stderr.slice(-2000));
    assert.equal(reportOf(result).results[0]?.error?.code, "circuit_open");
    assert.equal(dead.requests.length, asked, "no request");
  });

  test("--source-url URL/ --destination DIR mirrors into DIR rather than saving the index", async (t) => {
    const dir = await tempDir(t);
    index("/single/dir/", links("one.bin", "sub/"));
    index("/single/dir/sub/", links("two.bin"));
    server.route("/single/dir/one.bin", { body: bytes(100, 609) });
    server.route("/single/dir/sub/two.bin", { body: bytes(100, 610) });
    const result = await runCli([
      "--source-url",
      server.url("/single/dir/"),
      "--destination",
      join(dir, "mirror"),
      "--lock-dir",
      join(dir, "locks"),
    ]);
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    assert.deepEqual(await listFiles(join(dir, "mirror")), ["one.bin", "sub/two.bin"]);
  });

  test("--source-url URL/ without --destination mirrors under the artifact root, not into the sample's file name", async (t) => {
    const dir = await tempDir(t);
    index("/bare/dir/", links("one.bin"));
    server.route("/bare/dir/one.bin", { body: bytes(100, 615) });
    const result = await runCli(["--source-url", server.url("/bare/dir/")], {
      env: { REPO_ROOT: dir },
    });
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    const reports = join(dir, "reports", "resilient-sync");
    assert.deepEqual(
      (await listFiles(reports)).filter((f) => !f.startsWith(".locks")),
      ["dir/one.bin"],
    );
  });

  test("a server's root lands in a folder named after its host and port", async (t) => {
    const dir = await tempDir(t);
    index("/", links("at-root.bin"));
    server.route("/at-root.bin", { body: bytes(100, 611) });
    const result = await runCli(intoArtifactRoot([server.url("/")], dir, "--max-depth", "1"));
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    const host = new URL(server.url("/")).host;
    assert.deepEqual(await listFiles(join(dir, "out")), [`${host}/at-root.bin`]);
  });

  test("a pattern that takes nothing warns as for a local directory, and asks for no file", async (t) => {
    const dir = await tempDir(t);
    index("/none/dir/", links("a.csv", "b.csv"));
    const result = await runCli(
      intoArtifactRoot([server.url("/none/dir/")], dir, "--pattern", "*.bin"),
    );
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    assert.equal(findLog(result, "directory matched no files")?.pattern, "*.bin");
    assert.equal(server.requests.filter((r) => r.path.startsWith("/none/dir/a")).length, 0);
  });

  test("--checksum-file entries match the path below the remote directory", async (t) => {
    const dir = await tempDir(t);
    index("/sums/dir/", links("x/good.bin", "x/bad.bin"));
    const good = bytes(500, 616);
    server.route("/sums/dir/x/good.bin", { body: good });
    server.route("/sums/dir/x/bad.bin", { body: bytes(500, 617) });
    const sums = join(dir, "SHA256SUMS");
    await writeFile(sums, `${sha256(good)}  x/good.bin\n${"0".repeat(64)}  x/bad.bin\n`);
    const result = await runCli(
      intoArtifactRoot([server.url("/sums/dir/")], dir, "--checksum-file", sums, "--json"),
    );
    assert.equal(result.code, 1, result.stderr.slice(-2000));
    assert.deepEqual(
      reportOf(result).results.map((r) => r.error?.code ?? r.status),
      ["checksum_mismatch", "synced"],
    );
    assert.deepEqual(await listFiles(join(dir, "out")), ["dir/x/good.bin"]);
  });

  test("a file gone from the server is kept locally (copy, not sync)", async (t) => {
    const dir = await tempDir(t);
    index("/gone/dir/", links("stays.bin", "goes.bin"));
    server.route("/gone/dir/stays.bin", { body: bytes(100, 612) });
    server.route("/gone/dir/goes.bin", { body: bytes(100, 613) });
    const args = intoArtifactRoot([server.url("/gone/dir/")], dir, "--json");
    assert.equal((await runCli(args)).code, 0);
    index("/gone/dir/", links("stays.bin"));
    const second = await runCli(args);
    assert.equal(second.code, 0, second.stderr.slice(-2000));
    assert.equal(reportOf(second).results.length, 1);
    assert.deepEqual(await listFiles(join(dir, "out")), ["dir/goes.bin", "dir/stays.bin"]);
  });

  test("the deadline stops a listing that hangs: the source fails as deadline, nothing written", async (t) => {
    const dir = await tempDir(t);
    server.route("/hang/dir/", {
      body: Buffer.from(links("h.bin")),
      headers: HTML,
      script: [{ kind: "hold-answer" }],
    });
    const result = await runCli(
      intoArtifactRoot([server.url("/hang/dir/")], dir, "--deadline", "0.5", "--json"),
    );
    server.release();
    assert.deepEqual(
      reportOf(result).results.map((r) => r.error?.code),
      ["deadline"],
      result.stderr.slice(-2000),
    );
    assert.equal(await stat(join(dir, "out")).catch(() => undefined), undefined);
  });

  test("an interrupt while listing stops the run at once: exit 130, nothing written", async (t) => {
    const dir = await tempDir(t);
    server.route("/int/dir/", {
      body: Buffer.from(links("i.bin")),
      headers: HTML,
      script: [{ kind: "hold-answer" }],
    });
    const run = new CliProcess(intoArtifactRoot([server.url("/int/dir/")], dir));
    await server.waitFor(() => server.requestsFor("/int/dir/").length === 1);
    run.child.kill("SIGINT");
    const result = await run.done;
    server.release();
    assert.equal(result.code, 130, result.stderr.slice(-2000));
    assert.equal(server.requestsFor("/int/dir/i.bin").length, 0);
    assert.equal(await stat(join(dir, "out")).catch(() => undefined), undefined);
  });

  for (const bad of ["0", "-1", "1.5", "many"]) {
    test(`--max-depth ${bad} is refused: exit 64, naming it, nothing written`, async (t) => {
      const dir = await tempDir(t);
      const result = await runCli(
        intoArtifactRoot([server.url("/h/dir/")], dir, "--max-depth", bad),
      );
      assert.equal(result.code, 64, result.stderr.slice(-2000));
      assert.equal(findLog(result, "invalid argument")?.argument, "--max-depth");
      assert.deepEqual(await listFiles(dir), []);
    });
  }
});
