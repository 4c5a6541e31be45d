import assert from "node:assert/strict";
import { readFile, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CliProcess, findLog, runCli, singlePair } from "../helpers/cli.js";
import { bytes, sha256, useTestServer } from "../helpers/server.js";
import { isPartName, listFiles, tempDir, waitForPart } from "../helpers/tmp.js";

const server = useTestServer();

const args = (dir: string, path: string, ...extra: string[]) =>
  singlePair(server.url(path), dir, "out/data.bin", ...extra);

describe("crashes and signals never leave a partial destination", () => {
  test("SIGKILL mid-transfer: no destination; the next run resumes and completes", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(3_000_000, 41);
    server.route("/big.bin", { body, script: [{ kind: "hold", afterBytes: 1_000_000 }] });
    const victim = new CliProcess(args(dir, "/big.bin"));
    await waitForPart(join(dir, "out"), 1_000_000);
    victim.child.kill("SIGKILL");
    await victim.done;
    assert.ok(
      !(await listFiles(join(dir, "out"))).includes("data.bin"),
      "no destination after the kill",
    );

    const next = await runCli(args(dir, "/big.bin"));
    assert.equal(next.code, 0, next.stderr);
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
    const resumed = server.requestsFor("/big.bin")[1];
    assert.match(String(resumed?.headers.range), /^bytes=\d+-$/);
    assert.ok(
      server.bytesSentFor("/big.bin") <= body.length + 1_000_000,
      "not fetched twice from zero",
    );
    assert.deepEqual(await listFiles(join(dir, "out")), ["data.bin"]);
  });

  test("a part left without a record (a small body, SIGKILLed) is removed by the next run", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(50_000, 42);
    server.route("/small.bin", { body, script: [{ kind: "hold", afterBytes: 20_000 }] });
    const victim = new CliProcess(args(dir, "/small.bin"));
    await waitForPart(join(dir, "out"), 20_000);
    victim.child.kill("SIGKILL");
    await victim.done;
    assert.equal((await listFiles(join(dir, "out"))).filter(isPartName).length, 1);

    const next = await runCli(args(dir, "/small.bin"));
    assert.equal(next.code, 0, next.stderr);
    assert.equal(findLog(next, "removed stranded part files")?.count, 1);
    assert.deepEqual(await listFiles(join(dir, "out")), ["data.bin"]);
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
  });

  test("a --force run killed while the source is unchanged: the next run leaves no part, lock or record behind", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(2_000_000, 43);
    server.route("/same.bin", { body, script: [] });
    assert.equal((await runCli(args(dir, "/same.bin"))).code, 0);
    server.route("/same.bin", { body, script: [{ kind: "hold", afterBytes: 500_000 }] });
    const forced = new CliProcess(args(dir, "/same.bin", "--force"));
    await waitForPart(join(dir, "out"), 500_000);
    forced.child.kill("SIGKILL");
    await forced.done;
    server.release();

    const next = await runCli(args(dir, "/same.bin"));
    assert.equal(next.code, 0, next.stderr);
    assert.ok(findLog(next, "destination already up-to-date"));
    assert.deepEqual(await listFiles(join(dir, "out")), ["data.bin"], "no part or lock left");
    assert.deepEqual(
      (await listFiles(join(dir, "locks"))).filter((name) => name.endsWith(".part.json")),
      [],
      "no part record left",
    );
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
  });

  test("SIGKILL while replacing: the old destination stays whole", async (t) => {
    const dir = await tempDir(t);
    const v1 = bytes(400_000, 42);
    server.route("/replace.bin", { body: v1 });
    assert.equal((await runCli(args(dir, "/replace.bin"))).code, 0);
    const v2 = bytes(2_000_000, 43);
    server.change("/replace.bin", v2);
    server.route("/replace.bin", { body: v2, script: [{ kind: "hold", afterBytes: 500_000 }] });
    const victim = new CliProcess(args(dir, "/replace.bin"));
    await server.waitFor(() => server.bytesSentFor("/replace.bin") >= 400_000 + 500_000);
    victim.child.kill("SIGKILL");
    await victim.done;
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(v1));
    const next = await runCli(args(dir, "/replace.bin"));
    assert.equal(next.code, 0, next.stderr);
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(v2));
  });

  for (const [signal, code] of [
    ["SIGTERM", 143],
    ["SIGINT", 130],
  ] as const) {
    test(`${signal} stops within a second, exit ${code}, lock released, part kept for resume`, async (t) => {
      const dir = await tempDir(t);
      const path = `/signal-${signal}.bin`;
      const body = bytes(2_000_000, code);
      server.route(path, { body, script: [{ kind: "hold", afterBytes: 300_000 }] });
      const run = new CliProcess(args(dir, path));
      await waitForPart(join(dir, "out"), 300_000);
      const sentAt = Date.now();
      run.child.kill(signal);
      const result = await run.done;
      const tookMs = Date.now() - sentAt;
      assert.equal(result.code, code, result.stderr);
      assert.ok(tookMs < 1000, `stopped after ${tookMs} ms`);
      assert.ok(findLog(result, "interrupted"));
      const left = await listFiles(join(dir, "out"));
      assert.equal(left.length, 1, `only the part is left: ${left}`);
      assert.ok(isPartName(String(left[0])), `only the part is left: ${left}`);

      const next = await runCli(args(dir, path));
      assert.equal(next.code, 0, next.stderr);
      assert.equal(
        findLog(next, "removed stale lock"),
        undefined,
        "the lock was released, not left stale",
      );
      assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
      assert.ok(Number(findLog(next, "download successful")?.resumed_from) > 0);
    });
  }
});

describe("local files are interrupted too", () => {
  test("SIGINT while copying a large local file: exit 130 within a second, no destination", async (t) => {
    const dir = await tempDir(t);
    const source = join(dir, "huge.img");
    // Sparse: 8 GiB that cost no disk to make, and take far longer than a second to copy.
    await truncate(source, 8 * 1024 ** 3).catch(async () => {
      await writeFile(source, "");
      await truncate(source, 8 * 1024 ** 3);
    });
    const run = new CliProcess([
      "--source-url",
      source,
      "--destination",
      join(dir, "out", "copy.img"),
      "--lock-dir",
      join(dir, "locks"),
    ]);
    await waitForPart(join(dir, "out"), 50 * 1024 * 1024);
    const sentAt = Date.now();
    run.child.kill("SIGINT");
    const result = await run.done;
    assert.equal(result.code, 130, result.stderr);
    assert.ok(Date.now() - sentAt < 1000, `stopped after ${Date.now() - sentAt} ms`);
    assert.ok(!(await listFiles(join(dir, "out"))).includes("copy.img"));
  });
});

describe("checksums", () => {
  test("a mismatch exits 65 and leaves the old destination untouched", async (t) => {
    const dir = await tempDir(t);
    const v1 = bytes(10_000, 51);
    server.route("/sum.bin", { body: v1 });
    assert.equal((await runCli(args(dir, "/sum.bin"))).code, 0);
    server.change("/sum.bin", bytes(10_000, 52));
    const wrong = "0".repeat(64);
    const result = await runCli(args(dir, "/sum.bin", "--checksum", wrong));
    assert.equal(result.code, 65);
    const mismatch = findLog(result, "checksum mismatch");
    assert.equal(mismatch?.expected, wrong);
    assert.equal(mismatch?.actual, sha256(bytes(10_000, 52)));
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(v1));
    assert.deepEqual(await listFiles(join(dir, "out")), ["data.bin"], "no part file kept");
  });

  test("a matching checksum syncs; ALGO:HEX picks the algorithm", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(10_000, 53);
    server.route("/md5.bin", { body });
    const { createHash } = await import("node:crypto");
    const md5 = createHash("md5").update(body).digest("hex");
    const result = await runCli(args(dir, "/md5.bin", "--checksum", `md5:${md5.toUpperCase()}`));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(findLog(result, "updated destination")?.checksum, md5);
    assert.equal(findLog(result, "updated destination")?.algorithm, "md5");
  });

  test("a checksum that disagrees with an up-to-date destination is re-verified", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(1000, 54);
    server.route("/verify.bin", { body });
    assert.equal((await runCli(args(dir, "/verify.bin"))).code, 0);
    await writeFile(join(dir, "ignored"), "");
    const result = await runCli(args(dir, "/verify.bin", "--checksum", "f".repeat(64)));
    assert.equal(result.code, 65);
    assert.equal(
      server.requestsFor("/verify.bin")[1]?.status,
      200,
      "fetched again, not answered 304",
    );
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
  });
});

describe("long work after a failure obeys the deadline", () => {
  test("the checksum of a large old destination is cut by the deadline: reported null, the run ends", async (t) => {
    const dir = await tempDir(t);
    const destination = join(dir, "out", "big.img");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(join(dir, "out"));
    await writeFile(destination, "");
    await truncate(destination, 8 * 1024 ** 3); // sparse: costs no disk, seconds to hash
    server.route("/gone.img", { body: bytes(10, 1), script: [{ kind: "status", status: 404 }] });
    const result = await runCli([
      ...singlePair(server.url("/gone.img"), dir, "out/big.img"),
      "--deadline",
      "1",
      "--json",
    ]);
    assert.equal(result.code, 70, result.stderr);
    const [entry] = JSON.parse(result.stdout).results;
    assert.equal(entry.error.code, "not_found");
    assert.equal(entry.checksum, null, "cut by the deadline, not computed over 8 GiB");
  });
});
