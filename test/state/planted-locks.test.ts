/**
 * A holder's lock replaced under it: whatever now sits at the lock's path — the same inode with
 * another token, a copy of ours, a file that cannot be opened — means the lease is lost, said
 * as `lock lost`, and the planted file is left alone. Never an exception, and never one thrown
 * from the renewal timer, where it would end the process. Real files; a real lease holder
 * (python3, `fcntl(F_SETLEASE)`) for the file that cannot be opened.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFile, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { systemClock } from "../../src/clock.js";
import { silentLogger } from "../../src/log/events.js";
import { FsStateStore } from "../../src/state/fs-store.js";
import { tempDir } from "../helpers/tmp.js";

const once0 = { ttlMs: 5000, waitMs: 0 };

async function storeIn(t: Parameters<typeof tempDir>[0]) {
  const dir = join(await tempDir(t), "locks");
  const store = new FsStateStore(dir, systemClock, silentLogger);
  await store.ensureWritable();
  return store;
}

/** A lease held on "pair" in a fresh store, and its lock file's path. */
async function heldLock(t: Parameters<typeof tempDir>[0]) {
  const store = await storeIn(t);
  const lease = await store.acquire("pair", once0);
  assert.ok(lease);
  return { lease, path: store.lockPath("pair") };
}

/**
 * Holds a write lease on `path` from another process until the returned function ends it (or
 * the test ends): any other open of it then fails at once with EAGAIN (`O_NONBLOCK`), or blocks
 * for the kernel's lease-break time without it. The holder ignores the kernel's request to give
 * the lease up (SIGIO), so the open keeps failing.
 */
async function leaseHeldOn(
  t: Parameters<typeof tempDir>[0],
  path: string,
): Promise<() => Promise<void>> {
  const script = [
    "import fcntl, os, signal, sys",
    "signal.signal(signal.SIGIO, signal.SIG_IGN)",
    "fd = os.open(sys.argv[1], os.O_RDONLY)",
    "fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)",
    "print('leased', flush=True)",
    "sys.stdin.read()",
  ].join("\n");
  const holder = spawn("python3", ["-c", script, path], { stdio: ["pipe", "pipe", "inherit"] });
  t.after(() => holder.kill("SIGKILL"));
  const [line] = (await once(holder.stdout, "data")) as [Buffer];
  assert.equal(line.toString().trim(), "leased");
  return async () => {
    const exited = once(holder, "exit");
    holder.kill("SIGKILL");
    await exited;
  };
}

describe("a lock replaced under its holder", () => {
  test("the same inode with another token of the same length: lost", async (t) => {
    // As when a broken lock's inode is handed out again at once to the next holder's file.
    const { lease, path } = await heldLock(t);
    const before = await stat(path);
    const theirs = (await readFile(path, "utf8")).replace(
      /"token":"([^"]+)"/,
      (_, token: string) =>
        `"token":"${token.replace(/[0-9a-f]/g, (c) => (c === "0" ? "1" : "0"))}"`,
    );
    await writeFile(path, theirs);
    const after = await stat(path);
    assert.equal(after.ino, before.ino, "the same inode");
    assert.equal(after.size, before.size, "the same size");
    await assert.rejects(lease.check(), /took the lock over/);
    await lease.release();
    assert.equal(await readFile(path, "utf8"), theirs, "their lock is left alone");
  });

  test("a copy of ours under another inode: lost", async (t) => {
    // Our content is readable by anyone; a planted copy must not pass for the file we hold.
    const { lease, path } = await heldLock(t);
    const copy = await readFile(path);
    await unlink(path);
    await writeFile(path, copy);
    await assert.rejects(lease.check(), /took the lock over/);
    await lease.release();
    assert.deepEqual(await readFile(path), copy, "the copy is left alone");
  });

  test("a file that cannot be opened: lost, at a check and at a renewal, no exception", async (t) => {
    const store = await storeIn(t);
    // A short lease: renewed every 100 ms by its timer.
    const renewed = await store.acquire("renewed", { ttlMs: 500, waitMs: 0 });
    const checked = await store.acquire("checked", once0);
    assert.ok(renewed && checked);
    const leases: Array<() => Promise<void>> = [];
    for (const key of ["renewed", "checked"]) {
      const path = store.lockPath(key);
      await unlink(path);
      await writeFile(path, "planted");
      leases.push(await leaseHeldOn(t, path));
    }
    await assert.rejects(checked.check(), /took the lock over/);
    if (!renewed.lost.aborted) await once(renewed.lost, "abort");
    assert.match(String(renewed.lost.reason), /took the lock over/);
    await renewed.release();
    await checked.release();
    for (const end of leases) await end();
    for (const key of ["renewed", "checked"])
      assert.equal(await readFile(store.lockPath(key), "utf8"), "planted", "left alone");
  });
});
