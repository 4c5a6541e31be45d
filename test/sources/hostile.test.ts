import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { findLog, runCli, singlePair } from "../helpers/cli.js";
import { rawServer } from "../helpers/raw-server.js";
import { bytes, type Step, seeded, sha256, useTestServer } from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

const server = useTestServer();

const args = (dir: string, path: string, ...extra: string[]) =>
  singlePair(server.url(path), dir, "out/data.bin", ...extra);

describe("flaky networks", () => {
  test("resets at random offsets, again and again: the file arrives exact, each byte sent about once", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(3_000_000, 161);
    const random = seeded(Number(process.env.CHAOS_SEED ?? 161));
    // Each cut lands at a random point of what is left; resume continues from wherever it fell.
    const script: Step[] = Array.from({ length: 6 }, () => ({
      kind: "reset" as const,
      afterBytes: Math.floor(random() * 400_000) + 1,
    }));
    server.route("/resets.bin", { body, script });
    const result = await runCli(args(dir, "/resets.bin", "--max-retries", "10"));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
    assert.equal(server.requestsFor("/resets.bin").length, 7);
    assert.ok(
      server.bytesSentFor("/resets.bin") <= body.length + 6 * 65_536,
      `sent ${server.bytesSentFor("/resets.bin")}`,
    );
  });

  test("an ETag that changes between attempts: the new version, whole, never a mix", async (t) => {
    const dir = await tempDir(t);
    const v1 = bytes(1_000_000, 162);
    const v2 = bytes(1_000_000, 163);
    server.route("/moving.bin", { body: v1, script: [{ kind: "reset", afterBytes: 400_000 }] });
    server.once("progress", () => {});
    // Change the file as soon as the first attempt has been cut.
    const changed = server
      .waitFor(
        () =>
          server.requestsFor("/moving.bin").length === 1 &&
          server.bytesSentFor("/moving.bin") >= 400_000,
      )
      .then(() => server.change("/moving.bin", v2));
    const result = await runCli(args(dir, "/moving.bin"));
    await changed;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(v2));
    const second = server.requestsFor("/moving.bin")[1];
    assert.ok(second?.headers["if-range"], "asked to resume");
    assert.equal(second?.status, 200, "the server said: whole new version");
  });

  test("a 5xx storm longer than the retries: exit 70, nothing written, then the circuit", async (t) => {
    const dir = await tempDir(t);
    const storm: Step[] = [500, 502, 503, 504, 500, 503].map((status) => ({
      kind: "status" as const,
      status,
    }));
    server.route("/storm.bin", { body: bytes(10), script: storm });
    const result = await runCli(args(dir, "/storm.bin"));
    assert.equal(result.code, 70);
    assert.deepEqual(
      result.logs.filter((l) => l.message === "download failed").map((l) => l.status),
      [500, 502, 503, 504, 500],
    );
    assert.deepEqual(await listFiles(join(dir, "out")), []);
  });

  test("429 with Retry-After as an HTTP date", async (t) => {
    const dir = await tempDir(t);
    const when = new Date(Date.now() + 30_000).toUTCString();
    server.route("/dated429.bin", {
      body: bytes(100, 164),
      script: [{ kind: "status", status: 429, headers: { "retry-after": when } }],
    });
    const result = await runCli(args(dir, "/dated429.bin"));
    assert.equal(result.code, 0, result.stderr);
    const wait = findLog(result, "sleeping before retry")?.retry_after_ms as number;
    assert.ok(wait > 25_000 && wait <= 30_000, String(wait));
  });

  test("a gzip-encoded answer is stored as sent, and its checksum is of those bytes", async (t) => {
    const dir = await tempDir(t);
    const plain = Buffer.from("a,b\n".repeat(10_000));
    const gzipped = gzipSync(plain);
    server.route("/gz.csv", {
      body: gzipped,
      headers: { "content-encoding": "gzip", "content-type": "text/csv" },
    });
    const result = await runCli(args(dir, "/gz.csv", "--checksum", sha256(gzipped), "--json"));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      server.requestsFor("/gz.csv")[0]?.headers["accept-encoding"],
      "identity",
      "we asked for no encoding",
    );
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(gzipped));
  });
});

describe("hostile servers are refused cleanly", () => {
  test("enormous response headers: a clear failure, one request, nothing written", async (t) => {
    const dir = await tempDir(t);
    const huge = `HTTP/1.1 200 OK\r\nX-Junk: ${"a".repeat(200_000)}\r\nContent-Length: 3\r\n\r\nabc`;
    server.route("/huge-headers", {
      body: Buffer.from("abc"),
      script: Array.from({ length: 5 }, () => ({ kind: "raw" as const, data: huge })),
    });
    const result = await runCli(args(dir, "/huge-headers", "--json"));
    assert.equal(result.code, 70);
    assert.equal(server.requestsFor("/huge-headers").length, 1, "not retried");
    assert.match(JSON.parse(result.stdout).results[0].error.message, /header/i);
    assert.deepEqual(await listFiles(join(dir, "out")), []);
  });

  test("a Content-Disposition naming ../ changes nothing: the name comes from the URL", async (t) => {
    const dir = await tempDir(t);
    server.route("/report.csv", {
      body: Buffer.from("x\n"),
      headers: { "content-disposition": 'attachment; filename="../../escape.csv"' },
    });
    const result = await runCli([
      server.url("/report.csv"),
      "--artifact-root",
      join(dir, "root", "data"),
      "--lock-dir",
      join(dir, "locks"),
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await listFiles(join(dir, "root")), ["data/report.csv"]);
  });

  test("an invalid Content-Range on a resume: the partial is dropped and the file fetched whole", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(2_000_000, 165);
    server.route("/bad-range.bin", {
      body,
      script: [
        { kind: "reset", afterBytes: 1_000_000 },
        {
          kind: "raw",
          data: "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes banana\r\nContent-Length: 5\r\n\r\nhello",
        },
      ],
    });
    const result = await runCli(args(dir, "/bad-range.bin"));
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      String(server.requestsFor("/bad-range.bin")[1]?.headers.range),
      /^bytes=\d+-$/,
      "the bad answer was to a resume",
    );
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
  });

  test("a body longer than its Content-Length: exactly Content-Length bytes are kept", async (t) => {
    const dir = await tempDir(t);
    server.route("/too-long.bin", {
      body: Buffer.from("0123456789"),
      etag: false,
      script: [
        {
          kind: "raw",
          data: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789EXTRA-BYTES-THAT-ARE-NOT-PART-OF-IT",
        },
      ],
    });
    const result = await runCli(args(dir, "/too-long.bin"));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await readFile(join(dir, "out", "data.bin"), "utf8"), "0123456789");
  });

  test("after a redirect, an error names the URL that answered, and the one asked", async (t) => {
    const dir = await tempDir(t);
    server.route("/moved-away.bin", {
      body: Buffer.alloc(0),
      script: [{ kind: "redirect", location: "/gone-now.bin" }],
    });
    const result = await runCli(args(dir, "/moved-away.bin"));
    assert.equal(result.code, 70, result.stderr);
    const reason = String(result.logs.find((l) => l.message === "synchronization failed")?.reason);
    assert.match(reason, /gone-now\.bin \(redirected from .*moved-away\.bin\): HTTP 404/);
  });
  for (const [name, redirect, stray] of [
    [
      "an HTML page after a 302's Content-Length: 0",
      "Content-Length: 0\r\n\r\n",
      "<html>moved</html>\r\n",
    ],
    [
      "a whole unasked answer after a 302's body",
      `Content-Length: 60000\r\n\r\n${"x".repeat(60_000)}`,
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!",
    ],
  ] as const) {
    test(`${name}, sent apart: never read as the answer to the hop`, async (t) => {
      const dir = await tempDir(t);
      const body = "The quick brown fox\n";
      const raw = await rawServer(t, (socket, request) => {
        if (request.startsWith("GET /t ")) {
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
          return;
        }
        socket.write(`HTTP/1.1 302 Found\r\nLocation: /t\r\n${redirect}`);
        setImmediate(() => socket.write(stray));
      });
      const result = await runCli(
        singlePair(raw.url("/moved"), dir, "out/data.bin", "--max-retries", "1"),
      );
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await readFile(join(dir, "out", "data.bin"), "utf8"), body);
    });
  }
});
