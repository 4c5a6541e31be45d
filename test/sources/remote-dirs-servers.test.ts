/**
 * Remote directories against the index formats of other real servers: python's `http.server`
 * (a bare `<ul>` of names), Apache's mod_autoindex (FancyIndexing, with `?C=N;O=D` sort links and
 * an absolute "Parent Directory" link) and lighttpd's mod_dirlisting (a table, a script). Each
 * mirrors the same tree, skips its link loop, finds it unchanged the second time, and honours
 * `--pattern` and `--max-depth`. A server that is not installed is skipped, saying so (`.ci/run`
 * installs them all).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { findLog, intoArtifactRoot, runCli } from "../helpers/cli.js";
import { assertMirrored, makeTree, mirrorsTree } from "../helpers/remote-tree.js";
import { tempDir } from "../helpers/tmp.js";
import {
  APACHE,
  LIGHTTPD,
  PYTHON,
  skipReason,
  startApache,
  startLighttpd,
  startPythonServer,
  type WebServer,
} from "../helpers/web-servers.js";

const SERVERS: Array<{
  name: string;
  binary: string | undefined;
  apt: string;
  start: (binary: string, root: string) => Promise<WebServer>;
}> = [
  { name: "python3 -m http.server", binary: PYTHON, apt: "python3", start: startPythonServer },
  { name: "apache2 mod_autoindex", binary: APACHE, apt: "apache2", start: startApache },
  { name: "lighttpd mod_dirlisting", binary: LIGHTTPD, apt: "lighttpd", start: startLighttpd },
];

for (const { name, binary, apt, start } of SERVERS) {
  describe(`remote directories: ${name}`, { skip: skipReason(binary, name, apt) }, () => {
    test("mirrors the tree, then finds it unchanged; --pattern and --max-depth narrow it; the link loop is skipped", async (t) => {
      const dir = await tempDir(t);
      const www = await makeTree(dir);
      const server = await start(binary as string, www);
      t.after(() => server.stop());
      await mirrorsTree(t, server.url("/tree/"));
    });
  });
}

describe("remote directories: apache2 sorted by a column", {
  skip: skipReason(APACHE, "apache2 mod_autoindex", "apache2"),
}, () => {
  test("a URL copied after clicking a column (?C=M;O=D) mirrors the same tree and still skips the loop", async (t) => {
    const dir = await tempDir(t);
    const server = await startApache(APACHE as string, await makeTree(dir));
    t.after(() => server.stop());
    for (const sort of ["?C=N;O=D", "?C=M;O=A", "?C=S;O=D"]) {
      const out = join(dir, `sorted-${sort.slice(3, 4)}`);
      const result = await runCli(intoArtifactRoot([server.url(`/tree/${sort}`)], out, "--json"));
      assert.equal(result.code, 0, result.stderr.slice(-2000));
      await assertMirrored(join(out, "out", "tree"));
      assert.match(String(findLog(result, "skipped folder")?.folder), /\/tree\/sub\/loop\/$/, sort);
    }
  });
});
