/** Batch behaviours that a review found broken once: each test reproduces one finding. */
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { systemClock } from "../../src/clock.js";
import { markerKey } from "../../src/core/job.js";
import { sync, UsageError } from "../../src/index.js";
import { silentLogger } from "../../src/log/events.js";
import { FsStateStore } from "../../src/state/fs-store.js";
import { findLog, intoArtifactRoot, runCli } from "../helpers/cli.js";
import { bytes, type Step, sha256, TestServer } from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

let a: TestServer;
let b: TestServer;
before(async () => {
  a = await TestServer.start();
  b = await TestServer.start();
});
after(async () => {
  await a.close();
  await b.close();
});

interface Result {
  source: string;
  destination: string;
  status: string;
  error: { code: string } | null;
}

const resets = (n: number): Step[] =>
  Array.from({ length: n }, () => ({ kind: "reset" as const, afterBytes: 0 }));

describe("batch edge cases", () => {
  test("a URL named like a part file is refused, and cannot clobber another transfer", async (t) => {
    const dir = await tempDir(t);
    a.route("/slow", { body: bytes(200_000, 301) });
    a.route("/slow.resilient-sync.part", { body: bytes(30_000, 302) });
    const result = await runCli([
      a.url("/slow"),
      a.url("/slow.resilient-sync.part"),
      "--artifact-root",
      join(dir, "out"),
      "--lock-dir",
      join(dir, "l"),
      "--json",
    ]);
    assert.equal(result.code, 1);
    const report = JSON.parse(result.stdout);
    assert.deepEqual(
      report.results.map((r: Result) => [r.status, r.error?.code ?? null]),
      [
        ["synced", null],
        ["failed", "invalid_source"],
      ],
    );
    assert.equal(sha256(await readFile(join(dir, "out", "slow"))), sha256(bytes(200_000, 301)));
  });

  test("a redirect to a dead origin is charged to the dead origin, not the one that redirected", async (t) => {
    const dir = await tempDir(t);
    b.route("/gone.bin", {
      body: bytes(10),
      script: Array.from({ length: 50 }, () => ({ kind: "status" as const, status: 503 })),
    });
    a.route("/to-b", {
      body: bytes(10),
      script: [
        { kind: "redirect", location: b.url("/gone.bin") },
        { kind: "redirect", location: b.url("/gone.bin") },
        { kind: "redirect", location: b.url("/gone.bin") },
      ],
    });
    a.route("/ok1.bin", { body: bytes(1000, 303) });
    a.route("/ok2.bin", { body: bytes(1000, 304) });
    const result = await runCli([
      a.url("/to-b"),
      a.url("/ok1.bin"),
      a.url("/ok2.bin"),
      "--artifact-root",
      join(dir, "out"),
      "--lock-dir",
      join(dir, "l"),
      "--max-workers",
      "1",
      "--max-retries",
      "3",
      "--json",
    ]);
    assert.equal(result.code, 1, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.deepEqual(
      report.results.map((r: Result) => r.status),
      ["failed", "synced", "synced"],
    );
    const opened = result.logs.find((l) => l.message === "circuit breaker opened");
    assert.equal(
      opened?.origin,
      b.origin.replace("http://", "http://"),
      "the dead origin's circuit opened",
    );
  });

  test("an origin that dies mid-run: running transfers queue for one turn instead of all retrying", async (t) => {
    const dir = await tempDir(t);
    const local = await TestServer.start();
    t.after(() => local.close());
    local.route("/first.bin", { body: bytes(1000, 305) });
    for (let i = 0; i < 5; i += 1)
      local.route(`/later-${i}.bin`, { body: bytes(1000, 306 + i), script: resets(20) });
    const sources = [
      local.url("/first.bin"),
      ...Array.from({ length: 5 }, (_, i) => local.url(`/later-${i}.bin`)),
    ];
    const result = await runCli(
      intoArtifactRoot([...sources], dir, "--max-workers", "4", "--max-retries", "3", "--json"),
    );
    assert.equal(result.code, 1);
    // 1 success, then at most one failed first attempt per worker, then the leader's 2 retries.
    const attempts = result.logs.filter((l) => l.message === "attempting download").length;
    assert.ok(attempts <= 1 + 4 + 2, `${attempts} attempts`);
    // The HTTP client sends a request once more, on a new connection, when a reused keep-alive
    // connection closes before any answer (the server may have closed it as idle just then):
    // at most one such resend per worker's connection.
    assert.ok(
      local.requests.length <= attempts + 4,
      `${local.requests.length} requests: ${local.requests.map((r) => r.path).join(" ")} ${result.logs
        .filter((l) => /attempting|failed|circuit/.test(l.message))
        .map((l) => `${l.message}:${String(l.source).slice(-12)}:${l.attempt ?? ""}`)
        .join(" | ")}`,
    );
    const report = JSON.parse(result.stdout);
    assert.equal(
      report.results.filter((r: Result) => r.error?.code === "circuit_open").length >= 1,
      true,
    );
  });

  test("transfers waiting on a dead origin never hold up a healthy one", async (t) => {
    const dir = await tempDir(t);
    const dead = await TestServer.start();
    const good = await TestServer.start();
    t.after(async () => {
      await dead.close();
      await good.close();
    });
    for (let i = 0; i < 4; i += 1)
      dead.route(`/hang-${i}.bin`, {
        body: bytes(10),
        script: Array.from({ length: 10 }, () => ({ kind: "stall" as const, afterBytes: 0 })),
      });
    for (let i = 0; i < 4; i += 1) good.route(`/fine-${i}.bin`, { body: bytes(1000, 310 + i) });
    const sources = [
      ...Array.from({ length: 4 }, (_, i) => dead.url(`/hang-${i}.bin`)),
      ...Array.from({ length: 4 }, (_, i) => good.url(`/fine-${i}.bin`)),
    ];
    const result = await runCli(
      intoArtifactRoot(
        [...sources],
        dir,
        "--max-workers",
        "4",
        "--max-retries",
        "2",
        "--timeout",
        "0.5",
      ),
    );
    assert.equal(result.code, 1);
    const order = result.logs
      .filter((l) => l.message === "updated destination" || l.message === "circuit breaker opened")
      .map((l) => l.message);
    assert.deepEqual(
      order.slice(0, 4),
      Array(4).fill("updated destination"),
      `order: ${order.join(", ")}`,
    );
  });

  test("a directory source that holds the artifact root does not mirror itself", async (t) => {
    const dir = await tempDir(t);
    const project = join(dir, "proj");
    await mkdir(project);
    await writeFile(join(project, "a.csv"), "a\n");
    const run = () =>
      runCli([
        project,
        "--artifact-root",
        join(project, "out"),
        "--lock-dir",
        join(project, "out", ".locks"),
        "--json",
      ]);
    for (let i = 0; i < 3; i += 1) {
      const result = await run();
      assert.equal(result.code, 0, result.stderr);
      assert.equal(JSON.parse(result.stdout).summary.total, 1, `run ${i + 1}`);
    }
    assert.deepEqual(
      (await listFiles(join(project, "out"))).filter((f) => !f.startsWith(".locks")),
      ["proj/a.csv"],
    );
  });

  test("a state write failing before the commit fails that source only; the batch goes on", async (t) => {
    const dir = await tempDir(t);
    // Large enough to be worth a part record (small bodies get none).
    a.route("/s1.bin", { body: bytes(100_000, 320) });
    a.route("/s2.bin", { body: bytes(100_000, 321) });
    a.route("/s3.bin", { body: bytes(100_000, 322) });
    const out = join(dir, "out");
    const locks = join(dir, "l");
    const store = new FsStateStore(locks, systemClock, silentLogger);
    const partRecord = store.recordPath(pathToFileURL(join(out, "s2.bin")).href, "part");
    await mkdir(partRecord, { recursive: true });
    const result = await runCli([
      a.url("/s1.bin"),
      a.url("/s2.bin"),
      a.url("/s3.bin"),
      "--artifact-root",
      out,
      "--lock-dir",
      locks,
      "--json",
    ]);
    assert.equal(result.code, 1, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.deepEqual(
      report.results.map((r: Result) => [r.status, r.error?.code ?? null]),
      [
        ["synced", null],
        ["failed", "write_error"],
        ["synced", null],
      ],
    );
    assert.equal(findLog(result, "internal error"), undefined);
    assert.deepEqual(await listFiles(out), ["s1.bin", "s3.bin"], "no part file left behind");
  });

  test("a marker that cannot be written after the commit is a warning: the pair is synced", async (t) => {
    const dir = await tempDir(t);
    a.route("/m1.bin", { body: bytes(100, 323) });
    const out = join(dir, "out");
    const locks = join(dir, "l");
    const store = new FsStateStore(locks, systemClock, silentLogger);
    const key = markerKey(a.url("/m1.bin"), pathToFileURL(join(out, "m1.bin")).href);
    await mkdir(store.recordPath(key, "marker"), { recursive: true });
    const result = await runCli([
      a.url("/m1.bin"),
      "--artifact-root",
      out,
      "--lock-dir",
      locks,
      "--json",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).results[0].status, "synced");
    assert.ok(findLog(result, "state not recorded"), "the failed marker write is said");
    assert.equal(sha256(await readFile(join(out, "m1.bin"))), sha256(bytes(100, 323)));
  });

  test("a file destination and a folder destination at one path are refused up front", async (t) => {
    const dir = await tempDir(t);
    const folder = join(dir, "ok1");
    await mkdir(folder);
    await writeFile(join(folder, "x.csv"), "x\n");
    a.route("/ok1", { body: bytes(10) });
    const result = await runCli([
      a.url("/ok1"),
      folder,
      "--artifact-root",
      join(dir, "out"),
      "--lock-dir",
      join(dir, "l"),
    ]);
    assert.equal(result.code, 64);
    assert.match(String(findLog(result, "invalid argument")?.reason), /inside the file/);
  });

  test("a file name that is not UTF-8 is refused as invalid_source, not reported missing", async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, "src");
    await mkdir(src);
    await writeFile(Buffer.from(`${src}/lat\xe9.txt`, "latin1"), "x");
    await writeFile(join(src, "fine.txt"), "y");
    const result = await runCli(intoArtifactRoot([src], dir, "--json"));
    assert.equal(result.code, 1);
    const codes = JSON.parse(result.stdout).results.map((r: Result) => r.error?.code ?? r.status);
    assert.deepEqual(codes.sort(), ["invalid_source", "synced"]);
  });

  test("an empty directory beside a non-empty one of a longer name still gets its warning", async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, "d"));
    await mkdir(join(dir, "d2"));
    await writeFile(join(dir, "d2", "x.csv"), "x\n");
    const result = await runCli([
      join(dir, "d"),
      join(dir, "d2"),
      "--artifact-root",
      join(dir, "out"),
      "--lock-dir",
      join(dir, "l"),
    ]);
    assert.equal(result.code, 0);
    assert.equal(findLog(result, "directory matched no files")?.source, join(dir, "d"));
  });

  test("--dry-run predicts a 404 as a failure", async (t) => {
    const dir = await tempDir(t);
    const result = await runCli(
      intoArtifactRoot([a.url("/never-there.bin")], dir, "--dry-run", "--json"),
    );
    assert.equal(result.code, 70);
    assert.equal(JSON.parse(result.stdout).results[0].error.code, "not_found");
    assert.deepEqual(await listFiles(dir), []);
  });
});

describe("checksum files, matched as sha256sum would", () => {
  async function tree(dir: string) {
    const src = join(dir, "src");
    await mkdir(join(src, "s1"), { recursive: true });
    await mkdir(join(src, "s2"), { recursive: true });
    await writeFile(join(src, "s1", "a.txt"), "one\n");
    await writeFile(join(src, "s2", "a.txt"), "two\n");
    return src;
  }

  test("entries with subfolders match the files below the directory source", async (t) => {
    const dir = await tempDir(t);
    const src = await tree(dir);
    const sums = join(dir, "SUMS");
    await writeFile(
      sums,
      `${sha256(Buffer.from("one\n"))}  s1/a.txt\n${"0".repeat(64)}  s2/a.txt\n`,
    );
    const result = await runCli([
      src,
      "--checksum-file",
      sums,
      "--artifact-root",
      join(dir, "out"),
      "--lock-dir",
      join(dir, "l"),
      "--json",
    ]);
    assert.equal(result.code, 1);
    const report = JSON.parse(result.stdout);
    const byPath = Object.fromEntries(
      report.results.map((r: Result) => [r.destination.slice(-8), r.error?.code ?? r.status]),
    );
    assert.deepEqual(byPath, { "s1/a.txt": "synced", "s2/a.txt": "checksum_mismatch" });
  });

  test("a bare name shared by two files matches neither", async (t) => {
    const dir = await tempDir(t);
    const src = await tree(dir);
    const sums = join(dir, "SUMS");
    await writeFile(sums, `${sha256(Buffer.from("one\n"))}  a.txt\n`);
    const result = await runCli([
      src,
      "--checksum-file",
      sums,
      "--artifact-root",
      join(dir, "out"),
      "--lock-dir",
      join(dir, "l"),
    ]);
    assert.equal(result.code, 0, result.stderr);
  });

  test("BSD tags name the algorithm; an unknown tag is refused; GNU lines follow --checksum-algorithm", async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, "x.txt");
    await writeFile(file, "x\n");
    const { createHash } = await import("node:crypto");
    const sha512 = createHash("sha512").update("x\n").digest("hex");
    const common = [file, "--artifact-root", join(dir, "out"), "--lock-dir", join(dir, "l")];
    await writeFile(join(dir, "tagged"), `SHA512 (x.txt) = ${sha512}\n`);
    assert.equal((await runCli([...common, "--checksum-file", join(dir, "tagged")])).code, 0);
    await writeFile(join(dir, "blake"), `BLAKE2b (x.txt) = ${sha512}\n`);
    const blake = await runCli([...common, "--checksum-file", join(dir, "blake")]);
    assert.equal(blake.code, 64);
    assert.match(String(findLog(blake, "invalid argument")?.reason), /BLAKE2b/);
    await writeFile(join(dir, "gnu512"), `${sha512}  x.txt\n`);
    const wrongAlgorithm = await runCli([...common, "--checksum-file", join(dir, "gnu512")]);
    assert.equal(wrongAlgorithm.code, 64);
    assert.match(
      String(findLog(wrongAlgorithm, "invalid argument")?.reason),
      /--checksum-algorithm/,
    );
    assert.equal(
      (
        await runCli([
          ...common,
          "--checksum-file",
          join(dir, "gnu512"),
          "--checksum-algorithm",
          "sha512",
          "--force",
        ])
      ).code,
      0,
    );
  });
});

describe("--checksum and --checksum-file for the same file", () => {
  test("two different digests are refused (exit 64, naming both, nothing written); the same one is fine", async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, "x.txt");
    await writeFile(file, "x\n");
    const right = sha256(Buffer.from("x\n"));
    await writeFile(join(dir, "SUMS"), `${right}  x.txt\n`);
    const common = [
      file,
      "--checksum-file",
      join(dir, "SUMS"),
      "--artifact-root",
      join(dir, "out"),
    ];
    const clash = await runCli([
      ...common,
      "--checksum",
      "0".repeat(64),
      "--lock-dir",
      join(dir, "l"),
    ]);
    assert.equal(clash.code, 64, clash.stderr);
    assert.match(
      String(findLog(clash, "invalid argument")?.reason),
      new RegExp(`--checksum and --checksum-file give .*x\\.txt two different digests.*${right}`),
    );
    assert.deepEqual(await readdir(dir), ["SUMS", "x.txt"]);
    const same = await runCli([...common, "--checksum", right, "--lock-dir", join(dir, "l")]);
    assert.equal(same.code, 0, same.stderr);
  });
});

describe("library options are checked like the command line's", () => {
  for (const [what, options, argument] of [
    ["sources given as a string", { sources: "http://127.0.0.1:9/x" }, "sources"],
    ["a misspelt option", { maxWorker: 3 }, "maxWorker"],
    ["a pattern that is not a string", { sources: ["/tmp"], pattern: 5 }, "--pattern"],
    ["a checksum that is not a list", { checksum: "abc" }, "--checksum"],
    ["a negative delay scale", { delayScale: -1 }, "delayScale"],
    ["an input file that cannot be read", { inputFile: "/nonexistent/list.txt" }, "--input-file"],
  ] as const) {
    test(`${what}: UsageError naming ${argument}`, async () => {
      await assert.rejects(
        sync(options as never),
        (error: unknown) => error instanceof UsageError && error.argument === argument,
      );
    });
  }
});
