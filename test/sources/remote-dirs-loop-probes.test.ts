/**
 * Telling a link loop from real folders that list alike, by probing the same step down again:
 * served from a small tree with symbolic links, resolved as a server following them would (the
 * kernel's limit of 40 links a path), every listing dated to the minute as nginx and Apache do.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { findLog, intoArtifactRoot, runCli } from "../helpers/cli.js";
import { reportOf } from "../helpers/remote-tree.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

type Entry = { folder: Record<string, Entry> } | { file: number } | { link: string };

const folder = (entries: Record<string, Entry>): Entry => ({ folder: entries });
const file = (size: number): Entry => ({ file: size });
const link = (target: string): Entry => ({ link: target });

/** The entry at `path` of `root`, links followed (at most 40, as the kernel allows). */
function resolve(root: Entry, path: string): Entry | undefined {
  let node: Entry | undefined = root;
  let links = 0;
  for (const name of path.split("/").filter(Boolean)) {
    if (!node || !("folder" in node)) return undefined;
    node = node.folder[name];
    while (node && "link" in node) {
      links += 1;
      if (links > 40) return undefined;
      node = resolve(root, node.link);
    }
  }
  return node;
}

/** Serves `root` as autoindex pages; `failing` answers 503 for paths starting with it. */
async function serveTree(t: TestContext, root: Entry, failing?: string) {
  const asked: string[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    asked.push(path);
    if (failing && path.startsWith(failing)) return res.writeHead(503).end();
    const node = resolve(root, path);
    if (!node || "link" in node) return res.writeHead(404).end();
    if ("file" in node) return res.writeHead(200).end(Buffer.alloc(node.file, 97));
    const rows = Object.keys(node.folder)
      .sort()
      .map((name) => {
        const target = resolve(root, `${path}${name}`);
        const isFolder = target !== undefined && "folder" in target;
        const size = target && "file" in target ? target.file : "-";
        const shown = isFolder ? `${name}/` : name;
        return `<tr><td><a href="${shown}">${shown}</a></td><td>07-Dec-2026 10:00 ${size}</td></tr>`;
      });
    res
      .writeHead(200, { "content-type": "text/html" })
      .end(`<html><body><table>${rows.join("\n")}</table></body></html>`);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => server.close());
  return { asked, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A folder listing only `g`, unlike the others. */
const other = () => folder({ g: file(1) });

describe("remote directories: loops among folders that list alike", () => {
  test("a loop link below folders each found not to be a loop by another step is still a loop (its tree was walked exponentially)", async (t) => {
    // Every folder here but the `other()` ones lists `f s/ t/ u/`: `/t/s/` repeats `/t/` by
    // `s`, `/t/s/u/` repeats it by `u`, `/t/s/u/t/` by `t`, each found real (the next step
    // differs). Inside the last, `s` and `u` link to itself.
    const e = "/t/s/u/t";
    const tree = folder({
      t: folder({
        f: file(1),
        s: folder({
          f: file(1),
          s: other(),
          t: other(),
          u: folder({
            f: file(1),
            s: other(),
            u: other(),
            t: folder({ f: file(1), s: link(e), t: other(), u: link(e) }),
          }),
        }),
        t: other(),
        u: other(),
      }),
    });
    const { asked, base } = await serveTree(t, tree);
    const dir = await tempDir(t);
    const result = await runCli(intoArtifactRoot([`${base}/t/`], dir, "--json"));
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    assert.equal((await listFiles(join(dir, "out", "t"))).length, 11);
    assert.ok(asked.length < 100, `${asked.length} requests`);
    assert.ok(findLog(result, "skipped folder"));
  });

  test("a probe that cannot be read fails that folder (it was skipped as a loop, exit 0, nothing copied)", async (t) => {
    const tree = folder({
      t: folder({ pkg: folder({ pkg: folder({ pkg: folder({ "data.txt": file(5) }) }) }) }),
    });
    const { base } = await serveTree(t, tree, "/t/pkg/pkg/pkg/");
    const dir = await tempDir(t);
    const result = await runCli(
      intoArtifactRoot([`${base}/t/`], dir, "--json", "--max-retries", "1"),
    );
    assert.notEqual(result.code, 0, result.stderr.slice(-2000));
    const failed = reportOf(result).results.filter((r) => r.status === "failed");
    assert.equal(failed.length, 1);
    assert.match(
      String(findLog(result, "synchronization failed")?.reason),
      /whether it is a link loop cannot be told/,
    );
    assert.equal(findLog(result, "skipped folder"), undefined);
  });
});
