/**
 * Files of a remote directory follow redirects only within it, as its index pages do: a file
 * redirected to another origin, or out of the directory on the same origin, fails without the
 * target being asked anything — above all, without the directory's credentials going there.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { intoArtifactRoot, runCli } from "../helpers/cli.js";
import { reportOf } from "../helpers/remote-tree.js";
import { bytes, TestServer, useTestServer } from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

const server = useTestServer();
const HTML = { "content-type": "text/html; charset=utf-8" };

describe("remote directories: redirects of their files", () => {
  test("a file redirected out of the directory fails, the target never asked; within it, followed", async (t) => {
    const dir = await tempDir(t);
    const elsewhere = await TestServer.start();
    t.after(() => elsewhere.close());
    elsewhere.route("/loot/a.bin", { body: bytes(100, 701) });
    const html = ["away.bin", "up.bin", "moved.bin"].map((h) => `<a href="${h}">${h}</a>`);
    server.route("/fr/dir/", { body: Buffer.from(html.join("")), headers: HTML });
    // Every attempt is redirected the same way (a retry must not get through either).
    const redirect = (location: string) =>
      Array.from({ length: 5 }, () => ({ kind: "redirect" as const, location }));
    server.route("/fr/dir/away.bin", {
      body: bytes(10, 702),
      script: redirect(elsewhere.url("/loot/a.bin")),
    });
    server.route("/fr/dir/up.bin", { body: bytes(10, 703), script: redirect("/fr/outside.bin") });
    server.route("/fr/outside.bin", { body: bytes(10, 704) });
    server.route("/fr/dir/moved.bin", {
      body: bytes(10, 705),
      script: redirect("/fr/dir/real/moved.bin"),
    });
    server.route("/fr/dir/real/moved.bin", { body: bytes(200, 706) });

    const source = server.url("/fr/dir/").replace("http://", "http://bob:S3cretPass@");
    const result = await runCli(intoArtifactRoot([source], dir, "--json"));
    assert.equal(result.code, 1, result.stderr.slice(-2000));
    const byName = Object.fromEntries(
      reportOf(result).results.map((r) => [
        r.destination.slice(join(dir, "out", "dir").length + 1),
        [r.status, r.error?.code ?? null],
      ]),
    );
    assert.deepEqual(byName, {
      "away.bin": ["failed", "http_error"],
      "moved.bin": ["synced", null],
      "up.bin": ["failed", "http_error"],
    });
    const reasons = result.logs
      .filter((line) => line.message === "synchronization failed")
      .map((line) => String(line.reason));
    assert.equal(reasons.length, 2, reasons.join("\n"));
    for (const reason of reasons) assert.match(reason, /refused redirect/);
    assert.equal(
      elsewhere.requests.length,
      0,
      "nothing, and no credentials, sent to another origin",
    );
    assert.equal(
      server.requestsFor("/fr/outside.bin").length,
      0,
      "nothing asked outside the directory",
    );
    assert.deepEqual(await listFiles(join(dir, "out")), ["dir/moved.bin"]);
    assert.ok(!result.stdout.includes("S3cretPass") && !result.stderr.includes("S3cretPass"));
  });
});
