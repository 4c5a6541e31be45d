import assert from "node:assert/strict";
import { once } from "node:events";
import { open, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, test } from "node:test";
import { findLog, messages, runCli, singlePair } from "../helpers/cli.js";
import { bytes, etagOf, sha256, useTestServer } from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

const server = useTestServer();

const pairArgs = (dir: string, path: string) => singlePair(server.url(path), dir, "out/data.bin");

describe("http source, single pair", () => {
  test("syncs a URL into the destination, creating its folders", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(300_000, 1);
    server.route("/first.bin", { body });
    const result = await runCli(pairArgs(dir, "/first.bin"));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
    assert.deepEqual(messages(result).slice(-3), [
      "download successful",
      "updated destination",
      "synchronization complete",
    ]);
    assert.deepEqual(
      await listFiles(join(dir, "out")),
      ["data.bin"],
      "no temp or part file left behind",
    );
  });

  test("a second run asks conditionally and transfers no body", async (t) => {
    const dir = await tempDir(t);
    server.route("/same.bin", { body: bytes(50_000, 2) });
    assert.equal((await runCli(pairArgs(dir, "/same.bin"))).code, 0);
    const second = await runCli(pairArgs(dir, "/same.bin"));
    assert.equal(second.code, 0, second.stderr);
    const requests = server.requestsFor("/same.bin");
    assert.equal(requests.length, 2);
    assert.equal(requests[1]?.headers["if-none-match"], etagOf(bytes(50_000, 2)));
    assert.equal(requests[1]?.status, 304);
    assert.equal(requests[1]?.bytesSent, 0);
    assert.ok(findLog(second, "destination already up-to-date"));
  });

  test("a changed source is always picked up", async (t) => {
    const dir = await tempDir(t);
    server.route("/changing.bin", { body: bytes(10_000, 3) });
    assert.equal((await runCli(pairArgs(dir, "/changing.bin"))).code, 0);
    const changed = bytes(12_345, 4);
    server.change("/changing.bin", changed);
    const second = await runCli(pairArgs(dir, "/changing.bin"));
    assert.equal(second.code, 0, second.stderr);
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(changed));
    assert.ok(findLog(second, "updated destination"));
  });

  test("Last-Modified alone is enough for a conditional request", async (t) => {
    const dir = await tempDir(t);
    const lastModified = new Date(Date.now() - 60_000).toUTCString();
    server.route("/dated.bin", { body: bytes(1000, 5), etag: false, lastModified });
    assert.equal((await runCli(pairArgs(dir, "/dated.bin"))).code, 0);
    const second = await runCli(pairArgs(dir, "/dated.bin"));
    assert.equal(second.code, 0);
    assert.equal(server.requestsFor("/dated.bin")[1]?.headers["if-modified-since"], lastModified);
    assert.equal(server.requestsFor("/dated.bin")[1]?.status, 304);
  });

  test("a Last-Modified date from the second of the answer is not trusted: a change within that second is picked up", async (t) => {
    const dir = await tempDir(t);
    // A server comparing whole seconds (python's http.server, lighttpd) with no ETag: the file
    // changed again in the second it was fetched in keeps its Last-Modified date.
    const second = new Date(Date.now() - 60_000).toUTCString();
    server.route("/racy.bin", {
      body: bytes(1000, 31),
      etag: false,
      lastModified: second,
      headers: { date: second },
    });
    assert.equal((await runCli(pairArgs(dir, "/racy.bin"))).code, 0);
    const changed = bytes(1500, 32);
    server.change("/racy.bin", changed);
    const next = await runCli(pairArgs(dir, "/racy.bin"));
    assert.equal(next.code, 0, next.stderr);
    assert.equal(server.requestsFor("/racy.bin")[1]?.headers["if-modified-since"], undefined);
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(changed));
  });

  test("an answer without a Date is dated when it arrived: an old Last-Modified is still asked with", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(3000, 33);
    const lastModified = new Date(Date.now() - 60_000).toUTCString();
    const asked: Array<string | undefined> = [];
    const origin = createServer((req, res) => {
      res.sendDate = false;
      asked.push(req.headers["if-modified-since"]);
      if (req.headers["if-modified-since"] === lastModified) res.writeHead(304).end();
      else res.writeHead(200, { "last-modified": lastModified }).end(body);
    });
    origin.listen(0, "127.0.0.1");
    await once(origin, "listening");
    t.after(() => origin.close());
    const url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/nodate.bin`;
    const run = () => runCli(singlePair(url, dir, "out/data.bin"));
    assert.equal((await run()).code, 0);
    assert.equal((await run()).code, 0);
    assert.deepEqual(asked, [undefined, lastModified]);
  });

  test("a destination edited or deleted by hand is repaired", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(20_000, 6);
    server.route("/repair.bin", { body });
    const destination = join(dir, "out", "data.bin");
    assert.equal((await runCli(pairArgs(dir, "/repair.bin"))).code, 0);

    await writeFile(destination, "edited by hand");
    const afterEdit = await runCli(pairArgs(dir, "/repair.bin"));
    assert.equal(afterEdit.code, 0, afterEdit.stderr);
    assert.equal(
      server.requestsFor("/repair.bin")[1]?.headers["if-none-match"],
      undefined,
      "no conditional request",
    );
    assert.equal(sha256(await readFile(destination)), sha256(body));

    await rm(destination);
    const afterDelete = await runCli(pairArgs(dir, "/repair.bin"));
    assert.equal(afterDelete.code, 0, afterDelete.stderr);
    assert.equal(sha256(await readFile(destination)), sha256(body));
  });

  test("an edit in place that keeps the size and puts the mtime back is repaired too (ctime)", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(20_000, 8);
    server.route("/ctime.bin", { body });
    const destination = join(dir, "out", "data.bin");
    assert.equal((await runCli(pairArgs(dir, "/ctime.bin"))).code, 0);
    const before = await stat(destination);
    const handle = await open(destination, "r+");
    await handle.write(Buffer.from("EVIL CONTENT"), 0, 12, 100);
    await handle.close();
    await utimes(destination, before.atime, before.mtime);
    const after = await runCli(pairArgs(dir, "/ctime.bin"));
    assert.equal(after.code, 0, after.stderr);
    assert.equal(findLog(after, "destination already up-to-date"), undefined);
    assert.equal(sha256(await readFile(destination)), sha256(body));
  });

  test("--force fetches anew even when nothing changed", async (t) => {
    const dir = await tempDir(t);
    server.route("/force.bin", { body: bytes(5000, 7) });
    assert.equal((await runCli(pairArgs(dir, "/force.bin"))).code, 0);
    const forced = await runCli([...pairArgs(dir, "/force.bin"), "--force"]);
    assert.equal(forced.code, 0);
    const request = server.requestsFor("/force.bin")[1];
    assert.equal(request?.headers["if-none-match"], undefined);
    assert.equal(request?.status, 200);
    assert.equal(request?.bytesSent, 5000);
  });

  test("a server without validators: identical content leaves the destination untouched", async (t) => {
    const dir = await tempDir(t);
    server.route("/plain.bin", { body: bytes(4000, 8), etag: false });
    assert.equal((await runCli(pairArgs(dir, "/plain.bin"))).code, 0);
    const destination = join(dir, "out", "data.bin");
    const before = await stat(destination);
    const second = await runCli(pairArgs(dir, "/plain.bin"));
    assert.equal(second.code, 0);
    assert.equal(findLog(second, "destination already up-to-date")?.reason, "content unchanged");
    assert.equal((await stat(destination)).ino, before.ino, "not replaced");
  });

  test("404 fails at once: one request, exit 70, no destination", async (t) => {
    const dir = await tempDir(t);
    const result = await runCli(pairArgs(dir, "/missing.bin"));
    assert.equal(result.code, 70);
    assert.equal(server.requestsFor("/missing.bin").length, 1);
    assert.equal(findLog(result, "download failed")?.status, 404);
    assert.deepEqual(await listFiles(join(dir, "out")), []);
  });

  for (const status of [403, 410, 400]) {
    test(`HTTP ${status} is permanent: exactly one request`, async (t) => {
      const dir = await tempDir(t);
      const path = `/permanent-${status}.bin`;
      server.route(path, {
        body: bytes(10),
        script: [
          { kind: "status", status },
          { kind: "status", status },
        ],
      });
      const result = await runCli(pairArgs(dir, path));
      assert.equal(result.code, 70);
      assert.equal(server.requestsFor(path).length, 1);
    });
  }

  test("follows http redirects", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(2048, 9);
    server.route("/target.bin", { body });
    server.route("/hop2", {
      body,
      script: [{ kind: "redirect", location: "/target.bin", status: 301 }],
    });
    server.route("/hop1", {
      body,
      script: [{ kind: "redirect", location: server.url("/hop2"), status: 307 }],
    });
    const result = await runCli(pairArgs(dir, "/hop1"));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
  });

  test("refuses a redirect to file: with one request and no retry", async (t) => {
    const dir = await tempDir(t);
    server.route("/to-file", {
      body: Buffer.from("x"),
      script: [{ kind: "redirect", location: "file:///etc/passwd" }],
    });
    const result = await runCli(pairArgs(dir, "/to-file"));
    assert.equal(result.code, 70);
    assert.equal(server.requestsFor("/to-file").length, 1);
    assert.match(String(findLog(result, "download failed")?.reason), /refused redirect to file/);
    assert.deepEqual(await listFiles(join(dir, "out")), []);
  });

  test("refuses a redirect to ftp: with one request and no retry", async (t) => {
    const dir = await tempDir(t);
    server.route("/to-ftp", {
      body: Buffer.from("x"),
      script: [{ kind: "redirect", location: "ftp://127.0.0.1/pub/data.bin" }],
    });
    const result = await runCli(pairArgs(dir, "/to-ftp"));
    assert.equal(result.code, 70);
    assert.equal(server.requestsFor("/to-ftp").length, 1);
    assert.match(String(findLog(result, "download failed")?.reason), /refused redirect to ftp/);
    assert.deepEqual(await listFiles(join(dir, "out")), []);
  });

  test("refuses more than 10 redirects", async (t) => {
    const dir = await tempDir(t);
    server.route("/loop", {
      body: Buffer.from("x"),
      script: Array.from({ length: 20 }, () => ({ kind: "redirect" as const, location: "/loop" })),
    });
    const result = await runCli(pairArgs(dir, "/loop"));
    assert.equal(result.code, 70);
    assert.equal(server.requestsFor("/loop").length, 11);
    assert.match(String(findLog(result, "download failed")?.reason), /more than 10 redirects/);
  });

  test("an unchanged destination whose source now answers 404: exactly one request", async (t) => {
    const dir = await tempDir(t);
    server.route("/vanishes.bin", { body: bytes(1000, 10) });
    assert.equal((await runCli(pairArgs(dir, "/vanishes.bin"))).code, 0);
    server.route("/vanishes.bin", {
      body: bytes(1000, 10),
      script: [
        { kind: "status", status: 404 },
        { kind: "status", status: 404 },
      ],
    });
    const result = await runCli(pairArgs(dir, "/vanishes.bin"));
    assert.equal(result.code, 70);
    assert.equal(server.requestsFor("/vanishes.bin").length, 2, "one for the first sync, one now");
  });

  test("an unchanged destination whose source answers 503: --max-retries counts every request", async (t) => {
    const dir = await tempDir(t);
    server.route("/flaps.bin", { body: bytes(1000, 11) });
    assert.equal((await runCli(pairArgs(dir, "/flaps.bin"))).code, 0);
    server.route("/flaps.bin", {
      body: bytes(1000, 11),
      script: Array.from({ length: 5 }, () => ({ kind: "status" as const, status: 503 })),
    });
    const result = await runCli([...pairArgs(dir, "/flaps.bin"), "--max-retries", "2"]);
    assert.equal(result.code, 70);
    assert.equal(server.requestsFor("/flaps.bin").length, 1 + 2);
    assert.deepEqual(
      result.logs.filter((l) => l.message === "download failed").map((l) => l.attempt),
      [1, 2],
    );
  });

  test("a server without validators is asked once per run, not twice", async (t) => {
    const dir = await tempDir(t);
    server.route("/novalidators.bin", { body: bytes(1000, 12), etag: false });
    assert.equal((await runCli(pairArgs(dir, "/novalidators.bin"))).code, 0);
    assert.equal((await runCli(pairArgs(dir, "/novalidators.bin"))).code, 0);
    assert.equal(server.requestsFor("/novalidators.bin").length, 2);
  });

  test("a changed source costs one GET: the conditional request's 200 is the transfer", async (t) => {
    const dir = await tempDir(t);
    server.route("/one-get.bin", { body: bytes(300_000, 71) });
    const args = singlePair(server.url("/one-get.bin"), dir, "one-get.bin");
    assert.equal((await runCli(args)).code, 0);
    server.change("/one-get.bin", bytes(300_000, 72));
    const before = server.requestsFor("/one-get.bin").length;
    const result = await runCli(args);
    assert.equal(result.code, 0, result.stderr);
    const asked = server.requestsFor("/one-get.bin").slice(before);
    assert.deepEqual(
      asked.map((r) => [r.status, typeof r.headers["if-none-match"]]),
      [[200, "string"]],
      "one conditional GET, answered 200 and used",
    );
    assert.equal(sha256(await readFile(join(dir, "one-get.bin"))), sha256(bytes(300_000, 72)));
    assert.equal(
      result.logs.filter((l) => l.message === "attempting download").length,
      1,
      "one attempt logged",
    );
  });
});
