import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { findLog, runCli } from "../helpers/cli.js";
import { assertValidReport } from "../helpers/schema.js";
import { bytes, sha256, TestServer } from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

let server: TestServer;
let dead: TestServer;
before(async () => {
  server = await TestServer.start();
  dead = await TestServer.start();
});
after(async () => {
  await server.close();
  await dead.close();
});

interface Result {
  source: string;
  destination: string;
  status: string;
  checksum: string | null;
  bytes: number;
  attempts: number;
  error: { code: string; message: string } | null;
}

function byName(report: { results: Result[] }, name: string): Result {
  const found = report.results.find(
    (r) => r.destination.endsWith(`/${name}`) || r.source.endsWith(name),
  );
  assert.ok(found, `no result for ${name}`);
  return found;
}

/** A snapshot of a tree: every file's path, size, mtime and digest. */
async function snapshot(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  const lines: string[] = [];
  for (const entry of entries) {
    const path = join(entry.parentPath, entry.name);
    const info = await stat(path);
    const digest = entry.isFile() ? sha256(await readFile(path)) : "dir";
    lines.push(`${path} ${info.size} ${info.mtimeMs} ${digest}`);
  }
  return lines.sort();
}

describe("batch sync", () => {
  test("a batch with a dead origin, a 404 and a bad checksum: the rest synced, exit 1", async (t) => {
    const dir = await tempDir(t);
    const good = Array.from({ length: 6 }, (_, i) => bytes(50_000 + i, 100 + i));
    for (const [i, body] of good.entries()) server.route(`/batch/good-${i}.bin`, { body });
    server.route("/batch/bad-sum.bin", { body: bytes(1000, 120) });
    for (let i = 0; i < 5; i += 1) {
      dead.route(`/dead-${i}.bin`, {
        body: bytes(10),
        script: Array.from({ length: 50 }, () => ({ kind: "status" as const, status: 503 })),
      });
    }
    const sources = [
      ...good.map((_, i) => server.url(`/batch/good-${i}.bin`)),
      server.url("/batch/missing.bin"),
      server.url("/batch/bad-sum.bin"),
      ...Array.from({ length: 5 }, (_, i) => dead.url(`/dead-${i}.bin`)),
    ];
    const result = await runCli([
      ...sources,
      "--artifact-root",
      join(dir, "data"),
      "--lock-dir",
      join(dir, "locks"),
      "--max-retries",
      "3",
      "--max-workers",
      "4",
      "--checksum",
      `${server.url("/batch/bad-sum.bin")}=${"0".repeat(64)}`,
      "--json",
    ]);
    assert.equal(result.code, 1, result.stderr);
    const report = JSON.parse(result.stdout);
    assertValidReport(report);
    good.forEach((body, i) => {
      const r = byName(report, `good-${i}.bin`);
      assert.equal(r.status, "synced");
      assert.equal(r.checksum, sha256(body));
    });
    for (let i = 0; i < good.length; i += 1) {
      assert.equal(
        sha256(await readFile(join(dir, "data", `good-${i}.bin`))),
        sha256(good[i] as Buffer),
      );
    }
    assert.equal(byName(report, "missing.bin").error?.code, "not_found");
    assert.equal(byName(report, "bad-sum.bin").error?.code, "checksum_mismatch");
    const deadResults = report.results.filter((r: Result) => r.source.includes(dead.origin));
    assert.equal(deadResults.length, 5);
    assert.ok(deadResults.every((r: Result) => r.status === "failed"));
    assert.equal(deadResults.filter((r: Result) => r.error?.code === "circuit_open").length, 4);
    assert.ok(dead.requests.length <= 3, `dead origin contacted ${dead.requests.length} times`);
    assert.equal(report.summary.synced, 6);
    assert.equal(report.summary.failed, 7);
  });

  test("connections are reused: 40 files over 4 workers take at most a handful of connections", async (t) => {
    const dir = await tempDir(t);
    const local = await TestServer.start();
    t.after(() => local.close());
    const sources = Array.from({ length: 40 }, (_, i) => {
      local.route(`/reuse/${i}.bin`, { body: bytes(4096, 200 + i) });
      return local.url(`/reuse/${i}.bin`);
    });
    const result = await runCli([
      ...sources,
      "--artifact-root",
      join(dir, "data"),
      "--lock-dir",
      join(dir, "locks"),
      "--max-workers",
      "4",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(local.requests.length, 40);
    assert.ok(local.connections <= 4, `${local.connections} connections for 40 requests`);
  });

  test("sources from --input-file and from stdin, with comments and blank lines", async (t) => {
    const dir = await tempDir(t);
    server.route("/list/a.csv", { body: Buffer.from("a\n") });
    server.route("/list/b.csv", { body: Buffer.from("b\n") });
    const list = join(dir, "sources.txt");
    await writeFile(
      list,
      `# the sources\n${server.url("/list/a.csv")}\n\n   ${server.url("/list/b.csv")}  \n`,
    );
    const fromFile = await runCli([
      "-i",
      list,
      "--artifact-root",
      join(dir, "one"),
      "--lock-dir",
      join(dir, "locks"),
    ]);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.deepEqual(await listFiles(join(dir, "one")), ["a.csv", "b.csv"]);
    const fromStdin = await runCli(
      ["--input-file", "-", "--artifact-root", join(dir, "two"), "--lock-dir", join(dir, "locks")],
      {
        input: await readFile(list, "utf8"),
      },
    );
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    assert.deepEqual(await listFiles(join(dir, "two")), ["a.csv", "b.csv"]);
    // A list of extras that is empty today, beside a SOURCE: the SOURCE is synced.
    const empty = join(dir, "extras.txt");
    await writeFile(empty, "# none today\n");
    const withExtras = await runCli([
      server.url("/list/a.csv"),
      "-i",
      empty,
      "--artifact-root",
      join(dir, "three"),
      "--lock-dir",
      join(dir, "locks"),
    ]);
    assert.equal(withExtras.code, 0, withExtras.stderr);
    assert.deepEqual(await listFiles(join(dir, "three")), ["a.csv"]);
  });

  test("names that would escape the artifact root fail as invalid_source; the rest sync", async (t) => {
    const dir = await tempDir(t);
    server.route("/safe.csv", { body: Buffer.from("ok\n") });
    // `/dir/` is a remote directory now (listed, not named), and so is `/%2e%2e`, which URL
    // parsing makes `/`, the server's root: this server has no index at either.
    const result = await runCli([
      server.url("/safe.csv"),
      server.url("/a/..%2F..%2Fescaped.csv"),
      server.url("/dir/"),
      server.url("/%2e%2e"),
      "--artifact-root",
      join(dir, "root", "data"),
      "--lock-dir",
      join(dir, "locks"),
      "--json",
    ]);
    assert.equal(result.code, 1, result.stderr);
    const report = JSON.parse(result.stdout);
    assertValidReport(report);
    assert.deepEqual(
      report.results.map((r: Result) => [r.status, r.error?.code ?? null]),
      [
        ["synced", null],
        ["failed", "invalid_source"],
        ["failed", "not_found"],
        ["failed", "not_found"],
      ],
    );
    assert.deepEqual(await listFiles(join(dir, "root")), ["data/safe.csv"]);
    assert.equal(
      server.requestsFor("/a/..%2F..%2Fescaped.csv").length,
      0,
      "nothing requested for a refused name",
    );
  });
});

describe("directory sources", () => {
  test("mirrors a directory under <artifact-root>/<dirname>/, keeping relative paths, filtered by --pattern", async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, "exports");
    await mkdir(join(src, "2026", "11"), { recursive: true });
    await writeFile(join(src, "top.csv"), "top\n");
    await writeFile(join(src, "notes.txt"), "not csv\n");
    await writeFile(join(src, ".hidden.csv"), "dot\n");
    await writeFile(join(src, "2026", "11", "day.csv"), "day\n");
    await writeFile(join(src, "2026", "11", "day.json"), "{}\n");
    const common = [
      src,
      "--artifact-root",
      join(dir, "data"),
      "--lock-dir",
      join(dir, "locks"),
      "--json",
    ];

    const all = await runCli(common);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(await listFiles(join(dir, "data")), [
      "exports/.hidden.csv",
      "exports/2026/11/day.csv",
      "exports/2026/11/day.json",
      "exports/notes.txt",
      "exports/top.csv",
    ]);

    const csvOnly = await runCli([
      src,
      "--pattern",
      "**/*.csv",
      "--artifact-root",
      join(dir, "csv"),
      "--lock-dir",
      join(dir, "locks"),
      "--json",
    ]);
    assert.equal(csvOnly.code, 0, csvOnly.stderr);
    assert.deepEqual(await listFiles(join(dir, "csv")), [
      "exports/.hidden.csv",
      "exports/2026/11/day.csv",
      "exports/top.csv",
    ]);
    assert.equal(
      await readFile(join(dir, "csv", "exports", "2026", "11", "day.csv"), "utf8"),
      "day\n",
    );

    const again = await runCli(common);
    const report = JSON.parse(again.stdout);
    assertValidReport(report);
    assert.equal(report.summary.unchanged, 5);
    assert.equal(report.summary.bytes, 0);
  });

  test("directory options given to a run with no directory source are said to act on nothing", async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, "exports");
    await mkdir(src);
    await writeFile(join(src, "one.csv"), "one\n");
    const common = ["--artifact-root", join(dir, "out"), "--lock-dir", join(dir, "locks")];
    const oneFile = await runCli([
      join(src, "one.csv"),
      "--max-depth",
      "2",
      "--pattern",
      "*.csv",
      ...common,
    ]);
    assert.equal(oneFile.code, 0, oneFile.stderr);
    const unused = findLog(oneFile, "options without effect");
    assert.equal(unused?.options, "--max-depth, --pattern");
    const folder = await runCli([src, "--max-depth", "2", ...common]);
    assert.equal(folder.code, 0, folder.stderr);
    assert.equal(findLog(folder, "options without effect"), undefined);
  });

  test("--source-url DIR without --destination mirrors under the artifact root, not into sample.csv/", async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, "exports");
    await mkdir(src);
    await writeFile(join(src, "one.csv"), "one\n");
    const result = await runCli(["--source-url", src], { env: { REPO_ROOT: dir } });
    assert.equal(result.code, 0, result.stderr);
    const reports = join(dir, "reports", "resilient-sync");
    assert.deepEqual(
      (await listFiles(reports)).filter((f) => !f.startsWith(".locks")),
      ["exports/one.csv"],
    );
  });

  test("--max-depth 1 takes only the files directly in a directory source", async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, "exports");
    await mkdir(join(src, "2026", "11"), { recursive: true });
    await writeFile(join(src, "top.csv"), "top\n");
    await writeFile(join(src, "2026", "mid.csv"), "mid\n");
    await writeFile(join(src, "2026", "11", "day.csv"), "day\n");
    const root = ["--artifact-root", join(dir, "data"), "--lock-dir", join(dir, "locks")];
    assert.equal((await runCli([src, "--max-depth", "1", ...root])).code, 0);
    assert.deepEqual(await listFiles(join(dir, "data")), ["exports/top.csv"]);
    assert.equal((await runCli([src, "--max-depth", "2", ...root])).code, 0);
    assert.deepEqual(await listFiles(join(dir, "data")), [
      "exports/2026/mid.csv",
      "exports/top.csv",
    ]);
  });
});

/** Syncs local `source` to `dir`/out/renamed.txt with `--checksum-file sums`. */
function syncRenamed(dir: string, source: string, sums: string, ...extra: string[]) {
  const out = join(dir, "out", "renamed.txt");
  const args = ["-o", out, "--checksum-file", sums, "--lock-dir", join(dir, "locks")];
  return runCli([source, ...args, ...extra]);
}

describe("--checksum-file and server-stated digests", () => {
  test("a sha256sum file is matched by destination name; a wrong entry fails that source only", async (t) => {
    const dir = await tempDir(t);
    const one = bytes(3000, 130);
    const two = bytes(3000, 131);
    server.route("/sums/one.bin", { body: one });
    server.route("/sums/two.bin", { body: two });
    const sums = join(dir, "SHA256SUMS");
    await writeFile(
      sums,
      `${sha256(one)}  one.bin\n${"e".repeat(64)} *two.bin\n${"a".repeat(64)}  unrelated.iso\n`,
    );
    const result = await runCli([
      server.url("/sums/one.bin"),
      server.url("/sums/two.bin"),
      "--checksum-file",
      sums,
      "--artifact-root",
      join(dir, "data"),
      "--lock-dir",
      join(dir, "locks"),
      "--json",
    ]);
    assert.equal(result.code, 1);
    const report = JSON.parse(result.stdout);
    assert.equal(byName(report, "one.bin").status, "synced");
    assert.equal(byName(report, "two.bin").error?.code, "checksum_mismatch");
    assert.deepEqual(await listFiles(join(dir, "data")), ["one.bin"]);
  });

  test("a local file given another name with -o is matched by that name, as a URL is", async (t) => {
    const dir = await tempDir(t);
    const source = join(dir, "zz.txt");
    await writeFile(source, "local\n");
    const sums = join(dir, "SHA256SUMS");
    // The entry for the destination's name is wrong; one for the source's name is right.
    await writeFile(
      sums,
      `${"e".repeat(64)}  renamed.txt\n${sha256(Buffer.from("local\n"))}  zz.txt\n`,
    );
    const result = await syncRenamed(dir, source, sums, "--json");
    assert.equal(result.code, 65, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.results[0].error?.code, "checksum_mismatch");
    assert.deepEqual(await listFiles(join(dir, "out")), []);
  });

  test("a --checksum-file that names none of the run's files: synced, with a warning", async (t) => {
    const dir = await tempDir(t);
    const source = join(dir, "zz.txt");
    await writeFile(source, "local\n");
    const sums = join(dir, "SHA256SUMS");
    await writeFile(sums, `${sha256(Buffer.from("local\n"))}  zz.txt\n`);
    const result = await syncRenamed(dir, source, sums);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(findLog(result, "checksum file matched no source")?.file, sums, result.stderr);
  });

  test("a malformed --checksum-file is refused with exit 64", async (t) => {
    const dir = await tempDir(t);
    const sums = join(dir, "bad.sums");
    await writeFile(sums, "this is not a checksum line\n");
    const result = await runCli([
      server.url("/sums/one.bin"),
      "--checksum-file",
      sums,
      "--artifact-root",
      join(dir, "d"),
      "--lock-dir",
      join(dir, "l"),
    ]);
    assert.equal(result.code, 64);
    assert.equal(findLog(result, "invalid argument")?.argument, "--checksum-file");
  });

  test("Repr-Digest and Content-MD5 from the server are verified", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(20_000, 132);
    const sha512 = createHash("sha512").update(body).digest("base64");
    const md5 = createHash("md5").update(body).digest("base64");
    server.route("/digest/good.bin", {
      body,
      headers: { "repr-digest": `sha-512=:${sha512}:`, "content-md5": md5 },
    });
    const good = await runCli([
      "--source-url",
      server.url("/digest/good.bin"),
      "--destination",
      join(dir, "good.bin"),
      "--lock-dir",
      join(dir, "l"),
    ]);
    assert.equal(good.code, 0, good.stderr);
    assert.deepEqual(findLog(good, "download successful")?.verified_by, [
      "repr-digest",
      "content-md5",
    ]);

    const wrong = createHash("sha256").update("something else").digest("base64");
    server.route("/digest/corrupt.bin", {
      body,
      headers: { "content-digest": `sha-256=:${wrong}:` },
    });
    const corrupt = await runCli([
      "--source-url",
      server.url("/digest/corrupt.bin"),
      "--destination",
      join(dir, "corrupt.bin"),
      "--lock-dir",
      join(dir, "l"),
      "--max-retries",
      "2",
    ]);
    assert.equal(corrupt.code, 65);
    assert.equal(
      server.requestsFor("/digest/corrupt.bin").length,
      2,
      "a corrupted body is fetched again",
    );
    assert.match(String(findLog(corrupt, "download failed")?.reason), /content-digest/);
    assert.deepEqual(
      (await listFiles(dir)).filter((f) => f.startsWith("corrupt")),
      [],
    );
  });
});

describe("--dry-run", () => {
  test("reports what would be fetched and what is up to date, and writes nothing", async (t) => {
    const dir = await tempDir(t);
    server.route("/dry/same.csv", { body: Buffer.from("same\n") });
    server.route("/dry/changes.csv", { body: Buffer.from("v1\n") });
    server.route("/dry/new.csv", { body: Buffer.from("new\n") });
    const common = [
      "--artifact-root",
      join(dir, "data"),
      "--lock-dir",
      join(dir, "locks"),
      "--json",
    ];
    const first = await runCli([
      server.url("/dry/same.csv"),
      server.url("/dry/changes.csv"),
      ...common,
    ]);
    assert.equal(first.code, 0);
    server.change("/dry/changes.csv", Buffer.from("v2\n"));

    const before = await snapshot(dir);
    const dry = await runCli([
      server.url("/dry/same.csv"),
      server.url("/dry/changes.csv"),
      server.url("/dry/new.csv"),
      "--dry-run",
      ...common,
    ]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(
      await snapshot(dir),
      before,
      "the tree is byte-for-byte and mtime-for-mtime the same",
    );
    const report = JSON.parse(dry.stdout);
    assertValidReport(report);
    assert.deepEqual(
      report.results.map((r: Result) => r.status),
      ["unchanged", "skipped", "skipped"],
    );
    assert.equal(report.summary.bytes, 0);
    const wouldFetch = dry.logs
      .filter((l) => l.message === "would fetch")
      .map((l) => `${l.source}: ${l.reason}`);
    assert.deepEqual(wouldFetch.sort(), [
      `${server.url("/dry/changes.csv")}: source changed`,
      `${server.url("/dry/new.csv")}: never synced`,
    ]);
    assert.equal(
      server.requests
        .filter((r) => r.path.startsWith("/dry/"))
        .slice(2)
        .every((r) => r.bytesSent === 0),
      true,
      "no body sent in the dry run",
    );
  });

  test("a dry run into a fresh folder creates no folder at all", async (t) => {
    const dir = await tempDir(t);
    const result = await runCli([
      "--source-url",
      server.url("/dry/same.csv"),
      "--destination",
      join(dir, "a", "b", "x.csv"),
      "--lock-dir",
      join(dir, "state", "locks"),
      "--dry-run",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await readdir(dir), []);
  });
});
