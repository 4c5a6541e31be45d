import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { findLog, runCli, singlePair } from "../helpers/cli.js";
import { bytes, etagOf, sha256, useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const server = useTestServer();

const args = (dir: string, path: string, ...extra: string[]) =>
  singlePair(server.url(path), dir, "data.bin", ...extra);

describe("resume is only ever exact", () => {
  test("a 206 that stops short of the end is not the whole file: the rest is fetched", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(200_000, 151);
    server.route("/partial206.bin", {
      body,
      script: [
        { kind: "stall", afterBytes: 50_000 },
        { kind: "partial-range", bytes: 1000 },
      ],
    });
    const result = await runCli(args(dir, "/partial206.bin", "--timeout", "0.5"));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(sha256(await readFile(join(dir, "data.bin"))), sha256(body));
    assert.ok(
      result.logs.some(
        (l) => l.message === "download failed" && String(l.reason).includes("short body"),
      ),
    );
  });

  test("a server that honours Range for another version: the kept bytes are discarded, never mixed", async (t) => {
    const dir = await tempDir(t);
    const v1 = bytes(200_000, 152);
    const v2 = bytes(200_000, 153);
    server.route("/mixed.bin", {
      body: v1,
      ignoreIfRange: true,
      script: [{ kind: "stall", afterBytes: 50_000 }],
    });
    const first = await runCli(
      args(dir, "/mixed.bin", "--timeout", "0.3", "--max-retries", "1", "--circuit-threshold", "9"),
    );
    assert.equal(first.code, 70);
    server.change("/mixed.bin", v2);
    const second = await runCli(args(dir, "/mixed.bin"));
    assert.equal(second.code, 0, second.stderr);
    assert.equal(sha256(await readFile(join(dir, "data.bin"))), sha256(v2));
    assert.equal(findLog(second, "download successful")?.resumed_from, 0);
  });

  test("a 206 that names no version, from a server ignoring If-Range: the kept bytes are discarded, never mixed", async (t) => {
    const dir = await tempDir(t);
    const v1 = bytes(200_000, 157);
    const v2 = bytes(200_000, 158);
    server.route("/bare.bin", {
      body: v1,
      ignoreIfRange: true,
      bareRanges: true,
      script: [{ kind: "stall", afterBytes: 50_000 }],
    });
    const first = await runCli(
      args(dir, "/bare.bin", "--timeout", "0.3", "--max-retries", "1", "--circuit-threshold", "9"),
    );
    assert.equal(first.code, 70);
    server.change("/bare.bin", v2);
    const second = await runCli(args(dir, "/bare.bin"));
    assert.equal(second.code, 0, second.stderr);
    assert.equal(sha256(await readFile(join(dir, "data.bin"))), sha256(v2));
    assert.equal(findLog(second, "download successful")?.resumed_from, 0);
  });

  test("a 206 in another Content-Encoding than the kept bytes' is not their continuation", async (t) => {
    const dir = await tempDir(t);
    // Text, which gzip shrinks: the encoded body ends before the span it claims, as a short
    // body would, and its bytes were kept for the next attempt to resume after.
    const body = Buffer.from("line of a report, 0123456789\n".repeat(20_000)).subarray(0, 400_000);
    // A load balancer whose backends disagree: one sends the file as asked (identity), another
    // gzips its ranges under the same strong ETag. The gzip bytes are not the file's bytes.
    const rest = gzipSync(body.subarray(100_000));
    const encoded = Buffer.concat([
      Buffer.from(
        `HTTP/1.1 206 Partial Content\r\nETag: ${etagOf(body)}\r\nAccept-Ranges: bytes\r\n` +
          "Content-Range: bytes 100000-399999/400000\r\nContent-Encoding: gzip\r\n" +
          `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${rest.length.toString(16)}\r\n`,
      ),
      rest,
      Buffer.from("\r\n0\r\n\r\n"),
    ]);
    server.route("/encoded.bin", {
      body,
      script: [
        { kind: "reset", afterBytes: 100_000 },
        { kind: "raw", data: encoded },
      ],
    });
    const result = await runCli(args(dir, "/encoded.bin", "--max-retries", "3"));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(sha256(await readFile(join(dir, "data.bin"))), sha256(body));
    assert.equal(findLog(result, "download successful")?.resumed_from, 0);
  });

  test("two sources for one destination never resume each other's bytes", async (t) => {
    const dir = await tempDir(t);
    const x = bytes(200_000, 154);
    const y = bytes(200_000, 155);
    server.route("/x.bin", { body: x });
    server.route("/y.bin", { body: y, script: [{ kind: "stall", afterBytes: 150_000 }] });
    const stalled = await runCli(
      args(dir, "/y.bin", "--timeout", "0.3", "--max-retries", "1", "--circuit-threshold", "9"),
    );
    assert.equal(stalled.code, 70);
    const fromX = await runCli(args(dir, "/x.bin"));
    assert.equal(fromX.code, 0, fromX.stderr);
    assert.equal(findLog(fromX, "download successful")?.resumed_from, 0);
    assert.equal(sha256(await readFile(join(dir, "data.bin"))), sha256(x));
    const fromY = await runCli(args(dir, "/y.bin"));
    assert.equal(fromY.code, 0, fromY.stderr);
    assert.equal(sha256(await readFile(join(dir, "data.bin"))), sha256(y));
  });

  test("a part file already complete (416 on resume) is fetched again within the same attempt", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(100_000, 156);
    server.route("/complete.bin", { body, script: [{ kind: "short", bytes: 100_000 }] });
    // The body arrives whole but the connection is cut before the end is acknowledged … then
    // the kept part equals the file, and a Range for the byte after it is unsatisfiable.
    const result = await runCli(args(dir, "/complete.bin", "--max-retries", "2"));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(sha256(await readFile(join(dir, "data.bin"))), sha256(body));
  });
});
