/**
 * Segmented downloads (`--split N`) against the scripted test server: a segment cut mid-body is
 * asked again alone, from its own offset; a source that changes between segment requests starts
 * over from zero, never mixing versions; a "slow down" costs a connection, not the transfer;
 * servers without ranges or strong validators, and small files, get one stream as before.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { findLog, type LogLine, runCli, singlePair } from "../helpers/cli.js";
import {
  bytes,
  type RecordedRequest,
  type Step,
  sha256,
  useTestServer,
} from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

const server = useTestServer();
const MiB = 1024 * 1024;
/** Four segments of 8 MiB (the smallest segment) at --split 4. */
const SIZE = 32 * MiB;

const args = (dir: string, path: string, ...extra: string[]) =>
  singlePair(server.url(path), dir, "out/data.bin", ...extra);

const logsNamed = (logs: LogLine[], message: string) => logs.filter((l) => l.message === message);

/** `[start, end]` of a request's `Range: bytes=start-end`; undefined for none. */
function rangeOf(request: RecordedRequest | undefined): [number, number] | undefined {
  const match = /^bytes=(\d+)-(\d+)$/.exec(String(request?.headers.range ?? ""));
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

describe("segmented download", () => {
  test("a segment cut mid-body is asked again alone, from its own offset; the file is exact", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(SIZE, 301);
    server.route("/cut.bin", {
      body,
      script: [{ kind: "ok" }, { kind: "reset", afterBytes: 1_000_000 }],
    });
    const result = await runCli(args(dir, "/cut.bin", "--split", "4"));
    assert.equal(result.code, 0, result.stderr.slice(0, 2000));
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
    assert.equal(findLog(result, "segmented download")?.segments, 4);

    const asked = server.requestsFor("/cut.bin");
    assert.equal(asked.length, 5, "the first GET, three segments, one retry");
    assert.equal(asked[0]?.headers.range, undefined, "the first request is a plain GET");
    const cut = asked.find((r) => r.step === "reset");
    const [cutStart, cutEnd] = rangeOf(cut) ?? [];
    assert.ok(cutStart !== undefined && cutEnd !== undefined, "a segment's request was cut");
    const retry = asked.at(-1);
    assert.deepEqual(rangeOf(retry), [cutStart + 1_000_000, cutEnd], "from where it stopped");
    const spans = asked.slice(1, 4).map(rangeOf);
    assert.equal(new Set(spans.map((s) => s?.[0])).size, 3, "each other segment asked once");
    const failed = logsNamed(result.logs, "segment failed");
    assert.equal(failed.length, 1);
    assert.equal(failed[0]?.offset, cutStart + 1_000_000);
    assert.ok(typeof failed[0]?.delay_ms === "number", "retried after a backoff");
    assert.equal(findLog(result, "download failed"), undefined, "the attempt never failed");
  });

  test("the first answer's body cut inside segment 0: segment 0 goes on as a range from there", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(SIZE, 313);
    server.route("/cut-lead.bin", { body, script: [{ kind: "reset", afterBytes: 1_000_000 }] });
    const result = await runCli(args(dir, "/cut-lead.bin", "--split", "4"));
    assert.equal(result.code, 0, result.stderr.slice(0, 2000));
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
    const asked = server.requestsFor("/cut-lead.bin");
    assert.equal(asked.length, 5);
    assert.deepEqual(rangeOf(asked.at(-1)), [1_000_000, 8 * MiB - 1]);
    assert.equal(logsNamed(result.logs, "segment failed")[0]?.segment, 0);
  });

  test("the next run of a changed source splits the no-op check's answer: one plain GET, then ranges", async (t) => {
    const dir = await tempDir(t);
    const v1 = bytes(SIZE, 311);
    const v2 = bytes(SIZE, 312);
    server.route("/next.bin", { body: v1 });
    assert.equal((await runCli(args(dir, "/next.bin", "--split", "4"))).code, 0);
    server.change("/next.bin", v2);
    const before = server.requestsFor("/next.bin").length;
    const result = await runCli(args(dir, "/next.bin", "--split", "4"));
    assert.equal(result.code, 0, result.stderr.slice(0, 2000));
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(v2));
    const asked = server.requestsFor("/next.bin").slice(before);
    assert.equal(asked.length, 4, "the check's GET and three segments");
    assert.ok(asked[0]?.headers["if-none-match"], "the first is the conditional check");
    assert.equal(asked.filter((r) => r.headers.range === undefined).length, 1);
    const unchanged = await runCli(args(dir, "/next.bin", "--split", "4"));
    assert.equal(
      findLog(unchanged, "destination already up-to-date")?.reason,
      "source not modified",
    );
  });

  for (const [name, ignoreIfRange] of [
    ["If-Range honoured: a 200 of the new version", false],
    ["If-Range ignored: a 206 of the new version", true],
  ] as const) {
    test(`the source changes between segment requests (${name}): from zero, never mixed`, async (t) => {
      const dir = await tempDir(t);
      const v1 = bytes(SIZE, 302);
      const v2 = bytes(SIZE, 303);
      const path = `/changing-${ignoreIfRange}.bin`;
      server.route(path, {
        body: v1,
        ignoreIfRange,
        script: [{ kind: "ok" }, { kind: "change", body: v2 }],
      });
      const result = await runCli(args(dir, path, "--split", "4"));
      assert.equal(result.code, 0, result.stderr.slice(0, 2000));
      assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(v2));
      assert.match(
        String(findLog(result, "download failed")?.reason),
        /the source changed during the segmented download/,
      );
      const fresh = server.requestsFor(path).filter((r) => r.headers.range === undefined);
      assert.equal(fresh.length, 2, "a plain GET again: from zero");
      assert.deepEqual(await listFiles(join(dir, "out")), ["data.bin"], "no part left");
    });
  }

  test("a segment told 429: one connection fewer, the segment waits its turn, the file is exact", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(SIZE, 304);
    server.route("/busy.bin", {
      body,
      script: [{ kind: "ok" }, { kind: "status", status: 429 }],
    });
    const result = await runCli(args(dir, "/busy.bin", "--split", "4"));
    assert.equal(result.code, 0, result.stderr.slice(0, 2000));
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
    const failed = logsNamed(result.logs, "segment failed");
    assert.equal(failed.length, 1);
    assert.equal(failed[0]?.status, 429);
    assert.equal(failed[0]?.delay_ms, null, "it waited for a connection, not a timer");
    assert.equal(server.requestsFor("/busy.bin").length, 5);
  });

  const oneStream: Array<[string, Parameters<typeof server.route>[1]]> = [
    ["a server without Range support", { body: bytes(SIZE, 305), ignoreRange: true }],
    ["a weak ETag and no Last-Modified", { body: bytes(SIZE, 306), etag: 'W/"weak"' }],
    ["no validator at all", { body: bytes(SIZE, 307), etag: false }],
    ["a file under 16 MiB", { body: bytes(16 * MiB - 1, 308) }],
  ];
  for (const [name, route] of oneStream) {
    test(`${name}: one stream, as before`, async (t) => {
      const dir = await tempDir(t);
      const path = `/one-${name.replace(/\W+/g, "-")}.bin`;
      server.route(path, route);
      const result = await runCli(args(dir, path, "--split", "8"));
      assert.equal(result.code, 0, result.stderr.slice(0, 2000));
      assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(route.body));
      assert.equal(server.requestsFor(path).length, 1);
      assert.equal(findLog(result, "segmented download"), undefined);
    });
  }

  test("a server that says Accept-Ranges but answers a range with the whole file: one stream after one try", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(SIZE, 309);
    server.route("/liar.bin", { body, ignoreRange: true, headers: { "accept-ranges": "bytes" } });
    const result = await runCli(args(dir, "/liar.bin", "--split", "4"));
    assert.equal(result.code, 0, result.stderr.slice(0, 2000));
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
    assert.match(String(findLog(result, "download failed")?.reason), /whole file/);
    const attempts = logsNamed(result.logs, "attempting download");
    assert.equal(attempts.length, 2);
    assert.equal(logsNamed(result.logs, "segmented download").length, 1, "split once only");
    assert.deepEqual(await listFiles(join(dir, "out")), ["data.bin"]);
  });

  for (const [name, ranges] of [
    ["416 to every range", 416],
    ["each range capped at 1 MiB", MiB],
  ] as const) {
    test(`a server answering ${name}: one stream on the next attempt, the origin's circuit closed`, async (t) => {
      const dir = await tempDir(t);
      const body = bytes(SIZE, 318);
      const path = `/capped-${ranges}.bin`;
      server.route(path, { body, ranges });
      const result = await runCli(args(dir, path, "--split", "4"));
      assert.equal(result.code, 0, result.stderr.slice(0, 2000));
      assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
      assert.equal(logsNamed(result.logs, "segmented download").length, 1, "split once only");
      assert.equal(logsNamed(result.logs, "attempting download").length, 2);
      assert.deepEqual(await listFiles(join(dir, "out")), ["data.bin"]);
    });
  }

  test("ranges labelled with another Content-Encoding than the first answer are not stitched in", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(SIZE, 319);
    server.route("/gz-ranges.bin", { body, rangeHeaders: { "content-encoding": "gzip" } });
    const result = await runCli(args(dir, "/gz-ranges.bin", "--split", "4"));
    assert.equal(result.code, 0, result.stderr.slice(0, 2000));
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
    assert.match(String(findLog(result, "download failed")?.reason), /changed/);
    assert.equal(logsNamed(result.logs, "segmented download").length, 1, "then one stream");
  });

  test("a range whose chunked framing breaks after its last byte is never kept: the file is exact", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(SIZE, 320);
    server.route("/misframed.bin", { body, misframedRanges: true });
    const result = await runCli(args(dir, "/misframed.bin", "--split", "4"));
    assert.equal(result.code, 0, result.stderr.slice(0, 2000));
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
    assert.equal(logsNamed(result.logs, "segmented download").length, 1, "then one stream");
  });

  test("--max-filesize still applies: a split-worthy file larger than it fails at once", async (t) => {
    const dir = await tempDir(t);
    server.route("/huge.bin", { body: bytes(SIZE, 310) });
    const result = await runCli(args(dir, "/huge.bin", "--split", "4", "--max-filesize", "16M"));
    assert.equal(result.code, 73, result.stderr.slice(0, 2000));
    assert.equal(findLog(result, "segmented download"), undefined);
    assert.equal(server.requestsFor("/huge.bin").length, 1);
    assert.deepEqual(await listFiles(join(dir, "out")), []);
  });

  test("a changed source whose 206s carry no validator and ignore If-Range is never stitched in", async (t) => {
    const dir = await tempDir(t);
    const v1 = bytes(SIZE, 314);
    const v2 = bytes(SIZE, 315);
    // The first answer names v1; the source changes before the first segment's request, and the
    // server answers ranges of v2 with no ETag to compare.
    server.route("/bare.bin", {
      body: v1,
      bareRanges: true,
      ignoreIfRange: true,
      script: [{ kind: "ok" }, { kind: "change", body: v2 }],
    });
    const result = await runCli(args(dir, "/bare.bin", "--split", "4"));
    assert.equal(result.code, 0, result.stderr.slice(0, 2000));
    const got = sha256(await readFile(join(dir, "out", "data.bin")));
    assert.equal(got, sha256(v2), "the new version, whole: not v1's first segment and v2's rest");
    assert.match(String(findLog(result, "download failed")?.reason), /changed/);
    assert.equal(logsNamed(result.logs, "segmented download").length, 1, "then one stream");
  });

  test("backends naming the same file with their own ETags: one stream, not a failure", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(SIZE, 316);
    server.route("/lb.bin", { body, backendEtags: ['"backend-a"', '"backend-b"'] });
    const result = await runCli(args(dir, "/lb.bin", "--split", "4"));
    assert.equal(result.code, 0, result.stderr.slice(0, 2000));
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
    assert.equal(logsNamed(result.logs, "segmented download").length, 1, "split once only");
    assert.equal(logsNamed(result.logs, "attempting download").length, 2);
    assert.deepEqual(await listFiles(join(dir, "out")), ["data.bin"]);
  });

  test("a server that cuts every segment after a few bytes is not progress: the retries stay few", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(SIZE, 317);
    // The first answer brings 1 MiB; every request after it brings 100 bytes and is cut. Without a
    // floor on what counts as progress, each 100 bytes bought another free retry.
    const dribbles: Step[] = Array.from({ length: 400 }, () => ({
      kind: "reset",
      afterBytes: 100,
    }));
    server.route("/dribble.bin", {
      body,
      script: [{ kind: "reset", afterBytes: MiB }, ...dribbles],
    });
    const result = await runCli(args(dir, "/dribble.bin", "--split", "4", "--max-retries", "3"));
    assert.notEqual(result.code, 0, "every request is cut: the transfer fails");
    const asked = server.requestsFor("/dribble.bin").length;
    assert.ok(asked <= 40, `${asked} requests for a transfer whose every request is cut`);
  });
});
