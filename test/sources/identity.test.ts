/**
 * Which source a marker or part record belongs to (`sourceIdentity`), and a changed source
 * picked up where only a redacted query value told the two apart.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, test } from "node:test";
import { sourceIdentity } from "../../src/sources/identity.js";
import { parseSourceLocation } from "../../src/sources/location.js";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

/** The one result's status in a `--json` document. */
const statusOf = (json: string) =>
  (JSON.parse(json) as { results: { status: string }[] }).results[0]?.status;
const identityOf = (url: string) => sourceIdentity(parseSourceLocation(url, "SOURCE"));

describe("sourceIdentity", () => {
  test("a URL that hides nothing, and a local file, are their own names", () => {
    assert.equal(
      identityOf("https://example.test/a.csv?page=2"),
      "https://example.test/a.csv?page=2",
    );
    assert.equal(identityOf("/data/a.csv"), "/data/a.csv");
  });

  test("values that may choose the resource tell sources apart, though redacted alike", () => {
    const a = identityOf("https://example.test/export?key=A");
    const b = identityOf("https://example.test/export?key=B");
    assert.notEqual(a, b);
    assert.ok(a.startsWith("https://example.test/export?key=***"), a);
    assert.ok(!a.includes("key=A"), "the value itself is not kept");
    // Redacted in logs as credential-like, yet they may choose the resource.
    for (const name of ["author", "object_key", "file_key", "cache_key", "session", "tokenizer"])
      assert.notEqual(
        identityOf(`https://example.test/f?${name}=a`),
        identityOf(`https://example.test/f?${name}=b`),
        name,
      );
  });

  test("a signed URL signed anew for the same object is the same source", () => {
    const signed = (date: string, signature: string) =>
      identityOf(
        `https://bucket.s3.example.test/obj.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=${date}&X-Amz-Signature=${signature}`,
      );
    assert.equal(signed("20261207T000000Z", "aa11"), signed("20261208T000000Z", "bb22"));
    assert.equal(
      identityOf("https://storage.example.test/o?X-Goog-Signature=1&X-Goog-Date=1"),
      identityOf("https://storage.example.test/o?X-Goog-Signature=2&X-Goog-Date=2"),
    );
    assert.notEqual(
      signed("20261207T000000Z", "aa11"),
      identityOf("https://bucket.s3.example.test/other.bin?X-Amz-Signature=aa11"),
    );
  });

  test("a refreshed token or a URL signed anew is the same source: asked conditionally, resumed", () => {
    for (const [one, two] of [
      ["https://example.test/a.bin?access_token=T1", "https://example.test/a.bin?access_token=T2"],
      [
        "https://raw.example.test/o/r/a.csv?token=AAA",
        "https://raw.example.test/o/r/a.csv?token=BBB",
      ],
      [
        "https://cdn.example.test/a?Signature=s1&Key-Pair-Id=K",
        "https://cdn.example.test/a?Signature=s2&Key-Pair-Id=K",
      ],
      ["https://blob.example.test/c/a?sv=1&sig=s1", "https://blob.example.test/c/a?sv=1&sig=s2"],
      [
        "https://example.test/a?api_key=k1&secret=1&id_token=t1",
        "https://example.test/a?api_key=k2&secret=2&id_token=t2",
      ],
    ])
      assert.equal(identityOf(one as string), identityOf(two as string), `${one} / ${two}`);
    assert.notEqual(
      identityOf("https://example.test/a?key=A&token=T1"),
      identityOf("https://example.test/a?key=B&token=T1"),
      "a value that may choose the resource still counts beside a token",
    );
  });

  test("userinfo and fragment never choose the resource", () => {
    assert.equal(
      identityOf("https://alice:one@example.test/a.csv"),
      identityOf("https://bob:two@example.test/a.csv"),
    );
    assert.equal(
      identityOf("https://example.test/a.csv#access_token=1"),
      identityOf("https://example.test/a.csv#access_token=2"),
    );
  });
});

describe("a source told apart only by a redacted query value", () => {
  test("is fetched anew, not answered 304 with the other's validators", async (t) => {
    // A server that sends only Last-Modified, the same for both exports.
    const lastModified = "Mon, 07 Dec 2026 00:00:00 GMT";
    const server = createServer((req, res) => {
      const key = new URL(req.url ?? "/", "http://x").searchParams.get("key");
      if (req.headers["if-modified-since"] === lastModified) {
        res.writeHead(304).end();
        return;
      }
      res.writeHead(200, { "last-modified": lastModified }).end(`content of ${key}\n`);
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    t.after(() => server.close());
    const { port } = server.address() as AddressInfo;
    const dir = await tempDir(t);
    const out = join(dir, "export.csv");
    const sync = (key: string) =>
      runCli(
        [
          `http://127.0.0.1:${port}/export?key=${key}`,
          "-o",
          out,
          "--lock-dir",
          join(dir, "locks"),
          "--json",
        ],
        { env: { REPO_ROOT: dir } },
      );
    const first = await sync("A");
    assert.equal(first.code, 0, first.stderr);
    assert.equal(await readFile(out, "utf8"), "content of A\n");
    const again = await sync("A");
    assert.equal(again.code, 0, again.stderr);
    assert.equal(statusOf(again.stdout), "unchanged", "the same source: asked conditionally");
    const other = await sync("B");
    assert.equal(other.code, 0, other.stderr);
    assert.equal(statusOf(other.stdout), "synced");
    assert.equal(await readFile(out, "utf8"), "content of B\n");
  });
});
