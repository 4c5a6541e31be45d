/**
 * Transfers hashed in a worker thread, end to end through the CLI against real servers (node:http,
 * and nginx for the default size threshold, each side of it): byte-exact files and the right digests at sizes
 * around the receive slots and the lent-bytes limit, a resume that hashes the kept part first, a
 * signal mid-transfer (the run stops, no worker keeps it alive), a checksum mismatch refused, and
 * a worker that dies (the attempt fails, never "synced"; the retry hashes on the main thread).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { startNginx } from "../../bench/lib/nginx.js";
import { blake3Available, newBlake3 } from "../../src/checksums/blake3.js";
import { OFFLOAD_MIN_BYTES } from "../../src/core/hash-placement.js";
import { CliProcess, findLog, runCli, singlePair } from "../helpers/cli.js";
import { bytes, sha256, useTestServer } from "../helpers/server.js";
import { listFiles, tempDir, waitForPart } from "../helpers/tmp.js";
import { NGINX } from "../helpers/web-servers.js";

const server = useTestServer();
/** Every lent body hashed in a worker, whatever its size. */
const WORKER = { RESILIENT_SYNC_HASH_WORKER: "1" };
const args = (dir: string, path: string, ...extra: string[]) =>
  singlePair(server.url(path), dir, "out/data.bin", ...extra);

function blake3Of(data: Buffer): string {
  const hash = newBlake3();
  hash.update(data);
  return hash.digest("hex");
}

describe("hashing in a worker thread", () => {
  const SLOT = 64 * 1024;
  const sizes = [1, SLOT - 1, SLOT, SLOT + 1, 3 * SLOT + 17, 7 * 1024 * 1024 + 5];
  for (const size of sizes) {
    test(`${size} bytes: the file is exact and its sha256 (and blake3) is the one reported`, async (t) => {
      const dir = await tempDir(t);
      const body = bytes(size, size % 251);
      server.route(`/sized-${size}.bin`, { body });
      const result = await runCli(args(dir, `/sized-${size}.bin`), { env: WORKER });
      assert.equal(result.code, 0, result.stderr);
      assert.ok((await readFile(join(dir, "out", "data.bin"))).equals(body));
      assert.equal(findLog(result, "updated destination")?.checksum, sha256(body));
      if (!blake3Available()) return;
      const again = await runCli(
        args(dir, `/sized-${size}.bin`, "--force", "--checksum-algorithm", "blake3"),
        { env: WORKER },
      );
      assert.equal(again.code, 0, again.stderr);
      assert.equal(findLog(again, "updated destination")?.checksum, blake3Of(body));
    });
  }

  test("a stated digest in another algorithm is checked by the worker too", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(300_000, 3);
    const sha512 = createHash("sha512").update(body).digest("base64");
    server.route("/stated.bin", { body, headers: { "Repr-Digest": `sha-512=:${sha512}:` } });
    const result = await runCli(args(dir, "/stated.bin"), { env: WORKER });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(findLog(result, "download successful")?.verified_by, ["repr-digest"]);
  });

  test("a resumed transfer hashes the kept part first: the digest covers the whole file", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(3_000_000, 4);
    server.route("/resumed.bin", { body, script: [{ kind: "stall", afterBytes: 1_234_567 }] });
    const result = await runCli(args(dir, "/resumed.bin", "--timeout", "0.5"), { env: WORKER });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(Number(findLog(result, "download successful")?.resumed_from) > 0, "it resumed");
    assert.ok((await readFile(join(dir, "out", "data.bin"))).equals(body));
    assert.equal(findLog(result, "updated destination")?.checksum, sha256(body));
  });

  test("SIGINT mid-transfer: the run stops promptly (no worker keeps it alive), the part is kept", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(4_000_000, 5);
    server.route("/held.bin", { body, script: [{ kind: "hold", afterBytes: 1_000_000 }] });
    const run = new CliProcess(args(dir, "/held.bin"), { env: WORKER });
    await waitForPart(join(dir, "out"), 500_000);
    const sentAt = Date.now();
    run.child.kill("SIGINT");
    const result = await run.done;
    assert.equal(result.code, 130, result.stderr);
    assert.ok(Date.now() - sentAt < 5000, "it stopped");
    const left = await listFiles(join(dir, "out"));
    assert.ok(!left.includes("data.bin"), `no destination: ${left}`);
    const next = await runCli(args(dir, "/held.bin"), { env: WORKER });
    assert.equal(next.code, 0, next.stderr);
    assert.equal(findLog(next, "updated destination")?.checksum, sha256(body));
  });

  test("a checksum that does not match is refused: nothing is committed", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(1_000_000, 6);
    server.route("/wrong.bin", { body });
    const wrong = sha256(Buffer.concat([body, Buffer.from("x")]));
    const result = await runCli(args(dir, "/wrong.bin", "--checksum", wrong), { env: WORKER });
    assert.notEqual(result.code, 0);
    assert.ok(!existsSync(join(dir, "out", "data.bin")), "no destination");
  });

  test("a worker that dies fails the transfer: never reported synced, nothing committed", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(4_000_000, 7);
    server.route("/crash.bin", { body });
    const result = await runCli(args(dir, "/crash.bin", "--max-retries", "1"), {
      env: { ...WORKER, RESILIENT_SYNC_FAILPOINT: "hash-worker-crash" },
    });
    assert.notEqual(result.code, 0, result.stderr);
    assert.equal(findLog(result, "updated destination"), undefined);
    assert.match(String(findLog(result, "download failed")?.reason), /hash worker failed/);
    assert.ok(!existsSync(join(dir, "out", "data.bin")), "no destination");
  });

  test("after a worker died, the retry hashes on the main thread: synced, exact, right digest", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(4_000_000, 8);
    server.route("/crash-then-main.bin", { body });
    const result = await runCli(args(dir, "/crash-then-main.bin", "--max-retries", "2"), {
      env: {
        ...WORKER,
        RESILIENT_SYNC_FAILPOINT: "hash-worker-crash",
        RESILIENT_SYNC_DELAY_SCALE: "0.001",
      },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(String(findLog(result, "download failed")?.reason), /hash worker failed/);
    assert.equal(findLog(result, "updated destination")?.checksum, sha256(body));
    assert.ok((await readFile(join(dir, "out", "data.bin"))).equals(body));
  });

  test("from nginx, by default: a thread over OFFLOAD_MIN_BYTES, none under it; both exact", {
    skip: NGINX ? false : "nginx is not installed",
  }, async (t) => {
    const dir = await tempDir(t);
    const root = join(dir, "www");
    await mkdir(root);
    await chmod(dir, 0o755);
    await chmod(root, 0o755);
    // Counts the threads the CLI starts, as Node announces them.
    const counter = join(dir, "count-threads.cjs");
    await writeFile(
      counter,
      `const dc = require("node:diagnostics_channel"); let threads = 0;
       dc.subscribe("worker_threads", () => { threads += 1; });
       process.on("exit", () => require("node:fs").writeFileSync(process.env.THREADS_FILE, String(threads)));`,
    );
    const nginx = await startNginx(root, NGINX);
    t.after(() => nginx.stop());
    for (const [name, size, threads] of [
      ["over.bin", OFFLOAD_MIN_BYTES + 3, "1"],
      ["under.bin", OFFLOAD_MIN_BYTES - 3, "0"],
    ] as const) {
      const body = bytes(size, 8);
      await writeFile(join(root, name), body);
      const threadsFile = join(dir, `${name}.threads`);
      const result = await runCli(singlePair(nginx.url(`/${name}`), dir, `out/${name}`), {
        env: { NODE_OPTIONS: `--require ${counter}`, THREADS_FILE: threadsFile },
      });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(findLog(result, "updated destination")?.checksum, sha256(body));
      assert.ok((await readFile(join(dir, "out", name))).equals(body));
      assert.equal(await readFile(threadsFile, "utf8"), threads, `threads started for ${name}`);
    }
  });
});
