/**
 * The file store's hand-over: a lease's lock file rewritten as the pair's marker and renamed
 * into place. Done only once a record written anew in the lock dir came out 0644, the lock's
 * own mode; everywhere else the marker is written anew.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { systemClock } from "../../src/clock.js";
import { FsStateStore } from "../../src/state/fs-store.js";
import { StaleFenceError } from "../../src/state/store.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { recorder, storeIn } from "../helpers/fs-store.js";
import { tempDir } from "../helpers/tmp.js";
import { marker as markerOf } from "./conformance.js";

const TTL_MS = 5000;
const once0 = { ttlMs: TTL_MS, waitMs: 0 };

/**
 * Writes a marker of another pair through `store` (whose lock dir is `dir`): a store that has
 * not probed its lock dir (`ensureWritable`) learns from it what mode records get there.
 */
async function markerOfAnotherPair(store: FsStateStore, dir: string) {
  return markerOfNewPair(store, dir, "another");
}

/** A lease on a new pair `name`'s local destination, ended by writing its marker. */
async function markerOfNewPair(store: FsStateStore, dir: string, name: string) {
  const key = pathToFileURL(join(dir, "..", `${name}.bin`)).href;
  const lease = await store.acquire(key, once0);
  assert.ok(lease);
  const lock = await stat(store.lockPath(key));
  await store.writeMarkerAndRelease(name, markerOf(name), lease);
  assert.equal(existsSync(store.lockPath(key)), false, "the lease ended with the marker");
  const next = await store.acquire(key, once0);
  assert.ok(next, "free at once");
  await lease.release();
  assert.ok(existsSync(store.lockPath(key)), "a late release leaves the next holder's lock");
  await next.release();
  const written = await stat(store.recordPath(name, "marker"));
  assert.deepEqual(await store.readMarker(name), markerOf(name));
  return { mode: written.mode & 0o777, handedOver: written.ino === lock.ino };
}

/** Two markers of new pairs through each of `stores`: each written anew, never a lock, 0600. */
async function assertWrittenAnew(dir: string, stores: Record<string, FsStateStore>) {
  for (const [name, store] of Object.entries(stores)) {
    for (const pair of ["first", "second"]) {
      assert.deepEqual(
        await markerOfNewPair(store, dir, `${name}-${pair}`),
        { mode: 0o600, handedOver: false },
        `${name}, ${pair}`,
      );
    }
  }
}

describe("FsStateStore: the lock file becomes the marker", () => {
  // These cases ask for umask 022, whatever the umask the tests were started under.
  let ambientUmask = 0o022;
  before(() => {
    ambientUmask = process.umask(0o022);
  });
  after(() => {
    process.umask(ambientUmask);
  });

  test("a store that probed its lock dir hands its locks over as markers from the first on", async (t) => {
    const { dir, store } = await storeIn(t); // the run's check of its lock dir: a probe file
    assert.deepEqual(await markerOfNewPair(store, dir, "first"), { mode: 0o644, handedOver: true });
    assert.deepEqual(await markerOfNewPair(store, dir, "second"), {
      mode: 0o644,
      handedOver: true,
    });
  });

  test("a store that did not probe: its first marker is written anew, and once it came out 0644 the rest are handed over", async (t) => {
    const dir = join(await tempDir(t), "locks");
    await mkdir(dir);
    const store = new FsStateStore(dir, systemClock, recorder());
    assert.deepEqual(await markerOfNewPair(store, dir, "first"), {
      mode: 0o644,
      handedOver: false,
    });
    assert.deepEqual(await markerOfNewPair(store, dir, "second"), {
      mode: 0o644,
      handedOver: true,
    });
  });

  test("a lock dir whose default ACL keeps records private: no lock is handed over, every marker is 0600", async (t) => {
    const parent = await tempDir(t);
    const dir = join(parent, "locks");
    await mkdir(dir);
    // The umask is 022 here: only the folder's default ACL makes new records private.
    const acl = spawnSync("setfacl", ["-d", "-m", "u::rwx,g::---,o::---", dir]);
    if (acl.error || acl.status !== 0) {
      t.skip(`no default ACL can be set here: ${acl.error?.message ?? acl.stderr}`);
      return;
    }
    const probed = new FsStateStore(dir, systemClock, recorder());
    await probed.ensureWritable();
    const unprobed = new FsStateStore(dir, systemClock, recorder());
    await assertWrittenAnew(dir, { probed, unprobed });
  });

  test("under umask 077 every marker is written anew, never through the lock others could open", async (t) => {
    const before = process.umask(0o077);
    try {
      const { dir, store: probed } = await storeIn(t);
      const key = pathToFileURL(join(dir, "..", "data.bin")).href;
      const lease = await probed.acquire(key, once0);
      assert.ok(lease);
      const lock = await stat(probed.lockPath(key));
      assert.equal(lock.mode & 0o777, 0o644, "the lock: readable by all, to tell its holder");
      await lease.release();
      const unprobed = new FsStateStore(dir, systemClock, recorder());
      await assertWrittenAnew(dir, { probed, unprobed });
    } finally {
      process.umask(before);
    }
  });

  test("a local destination's lock file is renamed to its marker: the same inode, no lock left", async (t) => {
    const { dir, store } = await storeIn(t);
    const key = pathToFileURL(join(dir, "..", "data.bin")).href;
    const lease = await store.acquire(key, once0);
    assert.ok(lease);
    const lock = await stat(store.lockPath(key));
    await store.writeMarkerAndRelease("pair", markerOf("abc"), lease);
    assert.equal(existsSync(store.lockPath(key)), false, "no lock file left");
    const written = await stat(store.recordPath("pair", "marker"));
    assert.equal(written.ino, lock.ino, "the marker is the lock's inode: none made, none freed");
    assert.deepEqual(await store.readMarker("pair"), markerOf("abc"), "no holder fields read back");
    await lease.release();
  });

  test("a holder stopped between the hand-over's steps and taken over: the taker's lock stays, no marker", async (t) => {
    const { dir } = await storeIn(t);
    const key = pathToFileURL(join(dir, "..", "data.bin")).href;
    const paused = new FakeClock();
    let taker: Awaited<ReturnType<FsStateStore["acquire"]>>;
    let other: FsStateStore | undefined;
    let armed = false;
    // The failpoint sits between writing the marker into the lock and the rename: there, another
    // run whose clock went on past the lease takes the lock over.
    const store = new FsStateStore(dir, paused, recorder(), async (name) => {
      if (name !== "marker-written" || !armed) return;
      const later = new FakeClock({ start: paused.now() });
      later.advance(TTL_MS * 3);
      other = new FsStateStore(dir, later, recorder());
      taker = await other.acquire(key, once0);
    });
    await markerOfAnotherPair(store, dir);
    armed = true;
    const lease = await store.acquire(key, once0);
    assert.ok(lease);
    await assert.rejects(
      store.writeMarkerAndRelease("pair", markerOf("stale"), lease),
      StaleFenceError,
    );
    assert.ok(taker, "taken over while stopped");
    assert.equal(await store.readMarker("pair"), undefined, "no marker from the lost lease");
    assert.ok(existsSync(store.lockPath(key)), "the taker's lock is where it was");
    await taker.check();
    await lease.release();
    assert.ok(existsSync(store.lockPath(key)), "and a late release leaves it");
    await taker.release();
  });

  test("a lock whose inode was handed to another run during the hand-over is neither renamed nor removed", async (t) => {
    const { dir } = await storeIn(t);
    const key = pathToFileURL(join(dir, "..", "data.bin")).href;
    let lockPath = "";
    const foreign = JSON.stringify({ token: "someone-else", fence: 99, pid: 1, host: "elsewhere" });
    // Between the two steps, the lock's inode comes to hold another run's lock (a broken lock's
    // inode is handed out again at once): same device and inode, other content.
    const store = new FsStateStore(dir, new FakeClock(), recorder(), async (name) => {
      if (name === "marker-written" && lockPath) await writeFile(lockPath, foreign);
    });
    await markerOfAnotherPair(store, dir);
    const lease = await store.acquire(key, once0);
    assert.ok(lease);
    lockPath = store.lockPath(key);
    await assert.rejects(
      store.writeMarkerAndRelease("pair", markerOf("stale"), lease),
      StaleFenceError,
    );
    assert.equal(await store.readMarker("pair"), undefined, "no marker");
    assert.equal(await readFile(lockPath, "utf8"), foreign, "the other run's lock is untouched");
    await lease.release();
    assert.equal(await readFile(lockPath, "utf8"), foreign, "and a late release leaves it");
  });

  test("a marker written the old way (no holder fields) still reads", async (t) => {
    const { store } = await storeIn(t);
    await writeFile(store.recordPath("old", "marker"), JSON.stringify(markerOf("old")));
    assert.deepEqual(await store.readMarker("old"), markerOf("old"));
  });

  test("a lock on another device than the lock dir: the marker is written anew, then the lease released", async (t) => {
    const shm = "/dev/shm";
    if (!existsSync(shm) || (await stat(shm)).dev === (await stat(await tempDir(t))).dev) {
      t.skip("no tmpfs on another device here");
      return;
    }
    const { dir } = await storeIn(t);
    const locks = await mkdtempIn(shm);
    t.after(() => rm(locks, { recursive: true, force: true }));
    const store = new FsStateStore(locks, systemClock, recorder());
    await markerOfAnotherPair(store, dir);
    const key = pathToFileURL(join(dir, "..", "data.bin")).href;
    const lease = await store.acquire(key, once0);
    assert.ok(lease);
    await store.writeMarkerAndRelease("pair", markerOf("abc"), lease);
    assert.equal((await store.readMarker("pair"))?.checksum, "abc");
    assert.equal(existsSync(store.lockPath(key)), false, "released");
    await lease.release(); // a no-op now
  });
});

async function mkdtempIn(folder: string): Promise<string> {
  const { mkdtemp } = await import("node:fs/promises");
  return mkdtemp(join(folder, "resilient-sync-test-"));
}
