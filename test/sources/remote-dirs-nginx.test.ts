/**
 * Remote directories against a real nginx with `autoindex on;`: a nested tree mirrored byte for
 * byte, a second run that is one conditional request per file, `--pattern` and `--max-depth`,
 * the link loop nginx lists skipped, a hand-written index whose links to a parent, another path
 * and another origin are not followed, and a dry run that lists what it would fetch. Skipped,
 * saying so, without nginx (`.ci/run` installs nginx-light).
 */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { startNginx } from "../../bench/lib/nginx.js";
import { intoArtifactRoot, runCli } from "../helpers/cli.js";
import { assertMirrored, makeTree, mirrorsTree, reportOf, TREE } from "../helpers/remote-tree.js";
import { bytes, useTestServer } from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";
import { NGINX, skipReason } from "../helpers/web-servers.js";

const trap = useTestServer();
const HAND_FILE = bytes(4000, 506);

/** nginx serving `www` with autoindex, logging `METHOD URI STATUS "If-None-Match"` to `log`. */
async function autoindex(www: string, log: string) {
  const nginx = await startNginx(www, NGINX, {
    http: `log_format requests '$request_method $request_uri $status "$http_if_none_match"';`,
    server: `autoindex on; access_log ${log} requests;`,
  });
  return nginx;
}

async function requestLines(log: string): Promise<string[]> {
  return (await readFile(log, "utf8").catch(() => "")).split("\n").filter((line) => line !== "");
}

describe("remote directories: nginx autoindex", {
  skip: skipReason(NGINX, "nginx", "nginx-light"),
}, () => {
  test("mirrors the tree, then finds it unchanged; --pattern and --max-depth narrow it; the link loop is skipped", async (t) => {
    const dir = await tempDir(t);
    const www = await makeTree(dir);
    const nginx = await autoindex(www, join(dir, "requests.log"));
    t.after(() => nginx.stop());
    await mirrorsTree(t, nginx.url("/tree/"));
  });

  test("a second run sends one conditional request per file (and one GET per index page)", async (t) => {
    const dir = await tempDir(t);
    const www = await makeTree(dir);
    const log = join(dir, "requests.log");
    const nginx = await autoindex(www, log);
    t.after(() => nginx.stop());
    const args = intoArtifactRoot([nginx.url("/tree/")], dir, "--json");
    assert.equal((await runCli(args)).code, 0);
    const before = (await requestLines(log)).length;
    const second = await runCli(args);
    assert.equal(second.code, 0, second.stderr.slice(-2000));
    const lines = (await requestLines(log)).slice(before);
    const files = Object.keys(TREE).map(
      (rel) => `/tree/${rel.split("/").map(encodeURIComponent).join("/")}`,
    );
    for (const path of files) {
      const asked = lines.filter(
        (line) => line.split(" ")[1]?.toLowerCase() === path.toLowerCase(),
      );
      assert.equal(asked.length, 1, `${path}: ${asked.join(" | ")}`);
      assert.match(asked[0] as string, / 304 "[^"]+"$/, `${path} asked conditionally`);
    }
    const pages = lines.filter((line) => line.split(" ")[1]?.endsWith("/"));
    assert.deepEqual(
      pages.map((line) => line.split(" ").slice(0, 3).join(" ")).sort(),
      [
        "GET /tree/ 200",
        "GET /tree/sub/ 200",
        "GET /tree/sub/deeper/ 200",
        "GET /tree/sub/deeper/deepest/ 200",
        "GET /tree/sub/loop/ 200",
        // The loop's repeats, one step further down each time, seven of them, to be sure of it.
        ...Array.from(
          { length: 7 },
          (_, i) => `GET /tree/sub/loop/${"sub/loop/".repeat(i + 1)} 200`,
        ),
        "GET /tree/with%20space/ 200",
      ].sort(),
      "each index page once, the loop's first page and its repeats only",
    );
    assert.equal(lines.length, files.length + pages.length, lines.join("\n"));
  });

  test("a hand-written index: links to a parent, another path, another origin or scheme are not followed", async (t) => {
    const dir = await tempDir(t);
    const www = await makeTree(dir);
    await writeFile(join(www, "outside.bin"), bytes(100, 507));
    await mkdir(join(www, "tree", "hand"));
    await writeFile(join(www, "tree", "hand", "hand-file.bin"), HAND_FILE);
    const log = join(dir, "requests.log");
    const nginx = await autoindex(www, log);
    t.after(() => nginx.stop());
    const port = new URL(nginx.url("/")).port;
    await writeFile(
      join(www, "tree", "hand", "index.html"),
      `<!doctype html><html><head><title>hand</title></head><body>
<a href="../../outside.bin">the parent's file</a>
<a href="/outside.bin">an absolute path elsewhere</a>
<a href="${trap.url("/trap.bin")}">another origin</a>
<a href="//localhost:${port}/tree/top.bin">another host, scheme-relative</a>
<a href="https://127.0.0.1:${port}/tree/hand/hand-file.bin">another scheme</a>
<a href="../">up</a>
<a href="hand-file.bin">the file</a>
</body></html>`,
    );
    const result = await runCli(intoArtifactRoot([nginx.url("/tree/")], dir, "--json"));
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    await assertMirrored(join(dir, "out", "tree"), { "hand/hand-file.bin": HAND_FILE });
    assert.equal(trap.requests.length, 0, "nothing asked of another origin");
    const asked = (await requestLines(log)).map((line) => line.split(" ")[1]);
    assert.ok(!asked.includes("/outside.bin"), "nothing above the directory asked for");
    assert.deepEqual(
      await listFiles(join(dir, "out")),
      [...Object.keys(TREE), "hand/hand-file.bin"].map((rel) => `tree/${rel}`).sort(),
      "nothing lands outside the directory's folder",
    );
  });

  test("--dry-run lists what would be fetched and writes nothing", async (t) => {
    const dir = await tempDir(t);
    const www = await makeTree(dir);
    const nginx = await autoindex(www, join(dir, "requests.log"));
    t.after(() => nginx.stop());
    const result = await runCli(
      intoArtifactRoot([nginx.url("/tree/")], dir, "--dry-run", "--json"),
    );
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    const would = result.logs.filter((line) => line.message === "would fetch");
    assert.deepEqual(
      would
        .map((line) => String(line.destination).slice(join(dir, "out", "tree").length + 1))
        .sort(),
      Object.keys(TREE).sort(),
    );
    assert.equal(reportOf(result).summary.skipped, Object.keys(TREE).length);
    assert.deepEqual(
      await listFiles(dir).then((files) =>
        files.filter((f) => !f.startsWith("www/") && f !== "requests.log"),
      ),
      [],
    );
  });
});
