/**
 * A destination whose metadata alone changed since its sync — chmod, a hard link, touch — still
 * holds the bytes synced: the next run hashes it, finds the marker's checksum, and asks the
 * origin conditionally (one 304, nothing downloaded); it was fetched whole. A hand edit that
 * keeps the size is other bytes: fetched and repaired as before.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { statfsSync } from "node:fs";
import { chmod, chown, link, mkdir, readFile, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, type TestContext, test } from "node:test";
import { runCli } from "../helpers/cli.js";
import { bytes, useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const server = useTestServer();

interface Result {
  status: string;
  bytes: number;
}

/** Runs the CLI on one source into `destination`; its one result. */
async function syncTo(url: string, destination: string, dir: string, ...extra: string[]) {
  const result = await runCli([
    url,
    "--destination",
    destination,
    "--lock-dir",
    join(dir, "locks"),
    "--json",
    ...extra,
  ]);
  assert.equal(result.code, 0, result.stderr.slice(0, 500));
  return JSON.parse(result.stdout).results[0] as Result;
}

/**
 * A python3 process holding a shared, writable mapping of `path`, told what to do line by line:
 * `touch` writes every page's own byte back (same bytes, dirty pages), `corrupt` writes other
 * bytes at the start. Each answers `done` once written.
 */
function mapping(t: TestContext, path: string) {
  const child = spawn("python3", [
    "-c",
    [
      "import mmap, sys",
      `f = open(${JSON.stringify(path)}, "r+b")`,
      "m = mmap.mmap(f.fileno(), 0)",
      "for line in sys.stdin:",
      "    if line.strip() == 'touch':",
      "        for i in range(0, len(m), 4096): m[i] = m[i]",
      "    else:",
      "        m[0:9] = b'CORRUPTED'",
      "    print('done', flush=True)",
    ].join("\n"),
  ]);
  t.after(() => child.kill("SIGKILL"));
  const lines = createInterface({ input: child.stdout });
  return async (what: "touch" | "corrupt") => {
    child.stdin.write(`${what}\n`);
    const [line] = (await once(lines, "line")) as [string];
    assert.equal(line, "done");
  };
}

/** tmpfs never dates a write through a mapping: no check of times can see one there. */
const TMPFS = 0x01021994;

describe("a destination whose metadata changed", () => {
  test("chmod, a hard link, touch: one conditional request, nothing downloaded; a hand edit is repaired", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(256 * 1024, 41);
    server.route("/meta/data.bin", { body });
    const destination = join(dir, "out", "data.bin");
    const run = (...extra: string[]) =>
      syncTo(server.url("/meta/data.bin"), destination, dir, ...extra);
    assert.equal((await run()).status, "synced");
    await mkdir(join(dir, "snapshot"));
    const changes: [string, () => Promise<void>][] = [
      ["chmod", () => chmod(destination, 0o640)],
      ["a hard link", () => link(destination, join(dir, "snapshot", "data.bin"))],
      ["touch", () => utimes(destination, new Date(), new Date("2001-02-03T04:05:06Z"))],
    ];
    for (const [what, change] of changes) {
      await change();
      assert.equal((await run("--dry-run")).status, "unchanged", `${what}: the dry run agrees`);
      const before = server.requestsFor("/meta/data.bin").length;
      const result = await run();
      assert.deepEqual([result.status, result.bytes], ["unchanged", 0], what);
      const asked = server.requestsFor("/meta/data.bin").slice(before);
      assert.deepEqual(
        asked.map((request) => [request.status, request.headers["if-none-match"] !== undefined]),
        [[304, true]],
        `${what}: one conditional request`,
      );
    }
    // The same size, other bytes: fetched whole and put right.
    const edited = Buffer.from(body);
    edited[1000] = (edited[1000] as number) ^ 0xff;
    await writeFile(destination, edited);
    const repaired = await run();
    assert.equal(repaired.status, "synced");
    assert.deepEqual(await readFile(destination), body);
  });

  test("a file another process maps and writes is never vouched for past a write it made unseen", async (t) => {
    const dir = await tempDir(t);
    if (statfsSync(dir).type === TMPFS)
      return t.skip("tmpfs does not date writes through a mapping");
    const body = bytes(64 * 1024, 43);
    server.route("/meta/mapped.bin", { body });
    const destination = join(dir, "out", "mapped.bin");
    const url = server.url("/meta/mapped.bin");
    assert.equal((await syncTo(url, destination, dir)).status, "synced");
    const write = mapping(t, destination);
    // Dirty pages holding the same bytes: vouched for (the times moved, the bytes did not).
    await write("touch");
    assert.equal((await syncTo(url, destination, dir)).status, "unchanged");
    // Other bytes written through the same, still open mapping: seen, fetched, put right.
    await write("corrupt");
    assert.equal((await syncTo(url, destination, dir)).status, "synced");
    assert.deepEqual(await readFile(destination), body);
  });

  test("another user's file at the destination's name is not vouched for, whatever it holds", {
    skip: process.geteuid?.() === 0 ? false : "needs root to give the file to another user",
  }, async (t) => {
    const dir = await tempDir(t);
    const body = bytes(8 * 1024, 44);
    server.route("/meta/owned.bin", { body });
    const destination = join(dir, "out", "owned.bin");
    const url = server.url("/meta/owned.bin");
    assert.equal((await syncTo(url, destination, dir)).status, "synced");
    await chown(destination, 65534, 65534);
    assert.equal((await syncTo(url, destination, dir, "--dry-run")).status, "skipped");
    assert.equal((await syncTo(url, destination, dir)).status, "synced");
  });
});

describe("a destination rewritten while a body identical to it arrives", () => {
  test("is replaced, not recorded as it stands (it was taken for the intact file)", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(256 * 1024, 45);
    server.route("/meta/rewritten.bin", { body, etag: '"v1"' });
    const destination = join(dir, "out", "rewritten.bin");
    const url = server.url("/meta/rewritten.bin");
    assert.equal((await syncTo(url, destination, dir)).status, "synced");
    // A new version with the same bytes, sent slowly: the run fetches it whole.
    server.route("/meta/rewritten.bin", {
      body,
      etag: '"v2"',
      pace: { chunkBytes: 32 * 1024, intervalMs: 50 },
    });
    const before = server.bytesSentFor("/meta/rewritten.bin");
    const running = syncTo(url, destination, dir);
    // Halfway through the body: the run judged the destination intact when the transfer began.
    await server.waitFor(() => server.bytesSentFor("/meta/rewritten.bin") >= before + 128 * 1024);
    const other = Buffer.from(body);
    other.fill(0x5a, 0, 1024);
    await writeFile(destination, other);
    assert.equal((await running).status, "synced");
    assert.deepEqual(await readFile(destination), body);
    assert.equal((await syncTo(url, destination, dir)).status, "unchanged");
    assert.deepEqual(await readFile(destination), body);
  });
});

describe("a destination on tmpfs", () => {
  const shm = "/dev/shm";
  const onTmpfs = (() => {
    try {
      return statfsSync(shm).type === TMPFS;
    } catch {
      return false;
    }
  })();
  test("is never vouched for by its hash: tmpfs dates no write through a mapping (fetched whole, as before)", {
    skip: onTmpfs ? false : "no tmpfs at /dev/shm",
  }, async (t) => {
    const dir = await tempDir(t);
    const { mkdtemp, rm } = await import("node:fs/promises");
    const shmDir = await mkdtemp(join(shm, "resilient-sync-test-"));
    t.after(() => rm(shmDir, { recursive: true, force: true }));
    const body = bytes(16 * 1024, 46);
    server.route("/meta/shm.bin", { body });
    const destination = join(shmDir, "shm.bin");
    const url = server.url("/meta/shm.bin");
    assert.equal((await syncTo(url, destination, dir)).status, "synced");
    await chmod(destination, 0o640);
    const result = await syncTo(url, destination, dir);
    assert.deepEqual([result.status, result.bytes], ["synced", body.length]);
  });
});
