/** `--dry-run` against servers that answer its questions in their own way. */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { findLog, intoArtifactRoot, runCli } from "../helpers/cli.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

describe("--dry-run against a server that refuses HEAD", () => {
  test("asks with a one-byte GET, as the sync asks with a GET (it predicted 'HTTP 405')", async (t) => {
    const dir = await tempDir(t);
    const asked: string[] = [];
    const noHead = createServer((req, res) => {
      asked.push(`${req.method} ${req.headers.range ?? ""}`);
      if (req.method === "HEAD") return res.writeHead(405, { allow: "GET" }).end();
      res.writeHead(200, { "content-length": "5" }).end("data\n");
    });
    noHead.listen(0, "127.0.0.1");
    await once(noHead, "listening");
    t.after(() => noHead.close());
    const url = `http://127.0.0.1:${(noHead.address() as AddressInfo).port}/object.bin`;
    const result = await runCli(intoArtifactRoot([url], dir, "--dry-run", "--json"));
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    assert.equal(findLog(result, "would fetch")?.source, url);
    assert.deepEqual(asked, ["HEAD ", "GET bytes=0-0"]);
    assert.deepEqual(await listFiles(dir), []);
  });
});
