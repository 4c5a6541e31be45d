/** `--dry-run` against servers that answer its questions in their own way. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { chmod } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
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

describe("--dry-run against a URL signed for GET alone (a presigned S3 URL answers HEAD 403)", () => {
  test("asks with a one-byte GET; a URL refused to GET as well still fails", async (t) => {
    const dir = await tempDir(t);
    const asked: string[] = [];
    const signedForGet = createServer((req, res) => {
      asked.push(`${req.method} ${req.url}`);
      if (req.method === "HEAD" || req.url === "/expired.bin") return res.writeHead(403).end();
      res.writeHead(200, { "content-length": "5" }).end("data\n");
    });
    signedForGet.listen(0, "127.0.0.1");
    await once(signedForGet, "listening");
    t.after(() => signedForGet.close());
    const base = `http://127.0.0.1:${(signedForGet.address() as AddressInfo).port}`;
    const ok = await runCli(intoArtifactRoot([`${base}/object.bin`], dir, "--dry-run"));
    assert.equal(ok.code, 0, ok.stderr.slice(-2000));
    assert.deepEqual(asked, ["HEAD /object.bin", "GET /object.bin"]);
    const refused = await runCli(
      intoArtifactRoot([`${base}/expired.bin`], dir, "--dry-run", "--json"),
    );
    assert.equal(refused.code, 70);
    assert.equal(JSON.parse(refused.stdout).results[0].error.code, "http_error");
    assert.deepEqual(await listFiles(dir), []);
  });
});

describe("--dry-run reports what is at the destination, as a run does", () => {
  test("a failing source and an open circuit: the destination's checksum, even after a chmod (it was null)", async (t) => {
    const dir = await tempDir(t);
    const body = Buffer.from("kept,data\n");
    let answer = 200;
    const origin = createServer((_req, res) => {
      if (answer !== 200) return res.writeHead(answer).end();
      res.writeHead(200, { "content-length": String(body.length), etag: '"v1"' }).end(body);
    });
    origin.listen(0, "127.0.0.1");
    await once(origin, "listening");
    t.after(() => origin.close());
    const url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/kept.csv`;
    const digest = createHash("sha256").update(body).digest("hex");
    assert.equal((await runCli(intoArtifactRoot([url], dir))).code, 0);
    const planned = async () => {
      const run = await runCli(intoArtifactRoot([url], dir, "--dry-run", "--json"));
      return JSON.parse(run.stdout).results[0] as {
        checksum: string | null;
        error: { code: string };
      };
    };
    answer = 404;
    // The marker no longer vouches for the file (its ctime changed): it is hashed.
    const [file] = (await listFiles(dir)).filter((name) => name.endsWith("kept.csv"));
    await chmod(join(dir, file as string), 0o640);
    const failing = await planned();
    assert.equal(failing.error.code, "not_found");
    assert.equal(failing.checksum, digest);
    // A run answered 503 opens the origin's circuit (threshold 1).
    answer = 503;
    await runCli(intoArtifactRoot([url], dir, "--max-retries", "1"));
    const open = await planned();
    assert.equal(open.error.code, "circuit_open");
    assert.equal(open.checksum, digest);
  });
});
