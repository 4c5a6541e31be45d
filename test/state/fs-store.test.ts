import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { closeSync, existsSync, openSync, readlinkSync, utimesSync, watch } from "node:fs";
import {
  mkdir,
  readdir,
  readFile,
  rename,
  stat,
  unlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { systemClock } from "../../src/clock.js";
import { bootId } from "../../src/fs/processes.js";
import { Circuits } from "../../src/health/circuits.js";
import { FsStateStore } from "../../src/state/fs-store.js";
import { recorder, storeIn } from "../helpers/fs-store.js";
import type { tempDir } from "../helpers/tmp.js";

const TTL_MS = 5000;
const once0 = { ttlMs: TTL_MS, waitMs: 0 };

/** The pid of a process that has exited: certainly not alive. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(child.stdout.toString());
}

describe("FsStateStore locks", () => {
  test("a held lock is busy for others; released, it is free; release is idempotent", async (t) => {
    const { store } = await storeIn(t);
    const first = await store.acquire("pair", once0);
    assert.ok(first);
    assert.equal(await store.acquire("pair", once0), undefined);
    await first.release();
    await first.release();
    const again = await store.acquire("pair", once0);
    assert.ok(again);
    await again.release();
  });

  test("waits up to waitMs for a busy lock", async (t) => {
    const { store } = await storeIn(t);
    const held = await store.acquire("pair", once0);
    assert.ok(held);
    const waiting = store.acquire("pair", { ttlMs: TTL_MS, waitMs: 5000 });
    await held.release();
    const taken = await waiting;
    assert.ok(taken);
    await taken.release();
  });

  const ownPidns = readlinkSync("/proc/self/ns/pid");
  const ownBoot = bootId();
  const old = new Date(Date.now() - 60_000);
  const owner = (fields: object) => () => JSON.stringify({ start: null, token: "x", ...fields });
  for (const [what, content, mtime] of [
    [
      "a dead holder",
      owner({ pid: deadPid(), host: hostname(), pidns: ownPidns, boot: ownBoot }),
      new Date(),
    ],
    [
      "a holder on another host whose lease expired",
      owner({ pid: process.pid, host: "elsewhere" }),
      old,
    ],
    [
      "a holder in another pid namespace whose lease expired",
      owner({ pid: 1, host: hostname(), pidns: "pid:[1]" }),
      old,
    ],
    ["an empty lock file, lease expired", () => "", old],
    [
      "an empty lock file just made (its creator killed before naming itself)",
      () => "",
      new Date(),
    ],
    ["a foreign lock file, lease expired", () => "locked by someone\n", old],
  ] as const) {
    test(`takes over a lock left by ${what}, with a warning`, async (t) => {
      const { dir, store, logger } = await storeIn(t);
      await writeFile(store.lockPath("pair"), content());
      await utimes(store.lockPath("pair"), mtime, mtime);
      const lock = await store.acquire("pair", once0);
      assert.ok(lock);
      assert.ok(logger.events.some((e) => e.message === "removed stale lock"));
      await lock.release();
      assert.deepEqual(
        (await readdir(dir)).filter((f) => !f.endsWith(".fence")),
        [],
        "no lock, break or temp file left",
      );
    });
  }
});

describe("FsStateStore lock takeover in progress", () => {
  test("an empty lock dated ahead of the clock (made this very millisecond, or by a host a little ahead) gets its maker's grace", async (t) => {
    const { store } = await storeIn(t);
    const path = store.lockPath("pair");
    // A live maker's lock, read before it names itself. File times are finer than Date.now()'s
    // millisecond, so one made this millisecond reads as dated up to 1 ms ahead; half a second
    // ahead makes that certain here, as a maker's clock a little ahead of ours would.
    const madeAt = Date.now();
    closeSync(openSync(path, "wx"));
    const ahead = (madeAt + 500) / 1000;
    utimesSync(path, ahead, ahead);
    const lock = await store.acquire("pair", once0);
    const waited = Date.now() - madeAt;
    assert.ok(lock, "taken once the grace is over (its maker never named itself)");
    assert.ok(waited >= 1000, `taken after ${waited} ms, within the maker's grace`);
    await lock.release();
  });

  test("a lock-break marker left by a killed breaker delays the next run (not even told to wait) by at most a few seconds, never blocks it", async (t) => {
    const { dir, store } = await storeIn(t);
    const path = store.lockPath("pair");
    await writeFile(
      path,
      JSON.stringify({
        pid: deadPid(),
        host: hostname(),
        pidns: readlinkSync("/proc/self/ns/pid"),
        boot: bootId(),
        start: null,
        token: "x",
      }),
    );
    await writeFile(`${path}.break`, "");
    const lock = await store.acquire("pair", once0);
    assert.ok(lock, "taken once the marker is old enough to be a dead breaker's");
    await lock.release();
    assert.deepEqual(
      (await readdir(dir)).filter((f) => !f.endsWith(".fence")),
      [],
      "no lock, break or temp file left",
    );
  });
});

describe("FsStateStore lock release", () => {
  test("a holder whose lock was broken never removes the lock that took its place (inode reuse)", async (t) => {
    const { store } = await storeIn(t);
    const path = store.lockPath("pair");
    for (let round = 0; round < 10; round += 1) {
      const first = await store.acquire("pair", once0);
      assert.ok(first);
      await unlink(path); // as a breaker would, judging it stale
      const second = await store.acquire("pair", once0);
      assert.ok(second);
      await first.release();
      assert.ok(existsSync(path), `round ${round}: the first holder removed the second's lock`);
      await second.release();
      assert.ok(!existsSync(path));
    }
  });
});

describe("FsStateStore: who may take a lock over", () => {
  /** A live process on this host to name as a lock's holder, and its start time. */
  async function liveHolder(t: Parameters<typeof tempDir>[0]) {
    const child = spawn("sleep", ["60"], { stdio: "ignore" });
    t.after(() => child.kill("SIGKILL"));
    await once(child, "spawn");
    const pid = child.pid as number;
    const stat = (await import("node:fs")).readFileSync(`/proc/${pid}/stat`, "utf8");
    const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
    const content = JSON.stringify({
      pid,
      host: hostname(),
      pidns: ownPidns,
      boot: ownBoot,
      start,
      token: "t",
      fence: 3,
    });
    return { child, content };
  }
  const ownPidns = readlinkSync("/proc/self/ns/pid");
  const ownBoot = bootId();
  const old = new Date(Date.now() - 60_000);

  test("a running holder on this host is never taken over, however old its lease", async (t) => {
    const { store } = await storeIn(t);
    const { content } = await liveHolder(t);
    await writeFile(store.lockPath("pair"), content);
    await utimes(store.lockPath("pair"), old, old);
    assert.equal(await store.acquire("pair", once0), undefined);
  });

  test("a stopped holder on this host is taken over once its lease is old, as expired (not dead)", async (t) => {
    const { store, logger } = await storeIn(t);
    const { child, content } = await liveHolder(t);
    child.kill("SIGSTOP");
    // The signal is delivered asynchronously: wait until the kernel shows the process stopped
    // (bounded: 200 looks, 10 ms apart).
    const { processStopped } = await import("../../src/fs/processes.js");
    for (let i = 0; i < 200 && !processStopped(child.pid as number); i += 1)
      await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(processStopped(child.pid as number), "the holder is stopped");
    await writeFile(store.lockPath("pair"), content);
    const fresh = new Date();
    await utimes(store.lockPath("pair"), fresh, fresh);
    assert.equal(await store.acquire("pair", once0), undefined, "not while its lease is fresh");
    await utimes(store.lockPath("pair"), old, old);
    const lease = await store.acquire("pair", once0);
    assert.ok(lease);
    assert.deepEqual(lease.predecessor, { ended: "expired", fence: 3, token: "t" });
    assert.ok(lease.fence.value > 3, "the fence continues from the holder's");
    assert.ok(logger.events.some((e) => e.message === "removed stale lock"));
    await lease.release();
  });

  test("a lock naming a running process it cannot prove is its own (no start time, another user's file) is judged by its lease", async (t) => {
    const { store } = await storeIn(t);
    const initStat = (await import("node:fs")).readFileSync("/proc/1/stat", "utf8");
    const initStart = initStat.slice(initStat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
    for (const [what, start, owner] of [
      ["no start time", null, 0],
      ["a file owned by another user than pid 1's", initStart, 65534],
    ] as const) {
      await writeFile(
        store.lockPath("pair"),
        JSON.stringify({
          pid: 1,
          host: hostname(),
          pidns: ownPidns,
          boot: ownBoot,
          start,
          token: "x",
          fence: 1,
        }),
      );
      const { chown } = await import("node:fs/promises");
      if (process.getuid?.() === 0) await chown(store.lockPath("pair"), owner, owner);
      else if (owner !== 0) continue;
      await utimes(store.lockPath("pair"), old, old);
      const lease = await store.acquire("pair", once0);
      assert.ok(lease, `taken over: ${what}`);
      await lease.release();
    }
  });

  test("a dead holder that is still a zombie (not reaped) is taken over at once", async (t) => {
    const { store } = await storeIn(t);
    // The shell starts a child, prints its pid, then becomes a `sleep` that never reaps it.
    const parent = spawn("sh", ["-c", "sleep 60 & echo $!; exec sleep 61"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    t.after(() => parent.kill("SIGKILL"));
    const [line] = (await once(parent.stdout, "data")) as [Buffer];
    const pid = Number(line.toString().trim());
    const { readFileSync } = await import("node:fs");
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
    // Only once the shell has become `sleep` is nobody left to reap the child.
    for (
      let i = 0;
      i < 200 && readFileSync(`/proc/${parent.pid}/comm`, "utf8").trim() !== "sleep";
      i += 1
    )
      await new Promise((resolve) => setTimeout(resolve, 10));
    process.kill(pid, "SIGKILL");
    for (let i = 0; i < 200 && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8")); i += 1)
      await new Promise((resolve) => setTimeout(resolve, 10));
    await writeFile(
      store.lockPath("pair"),
      JSON.stringify({
        pid,
        host: hostname(),
        pidns: ownPidns,
        boot: ownBoot,
        start,
        token: "z",
        fence: 1,
      }),
    );
    const lease = await store.acquire("pair", once0);
    assert.ok(lease, "a zombie holds nothing");
    assert.equal(lease.predecessor.ended, "gone");
    await lease.release();
  });

  test("a lock dated far in the future (a planted or skewed clock) counts as expired", async (t) => {
    const { store } = await storeIn(t);
    const future = new Date("2100-01-01T00:00:00Z");
    await writeFile(
      store.lockPath("pair"),
      JSON.stringify({ pid: 1, host: "elsewhere", token: "x" }),
    );
    await utimes(store.lockPath("pair"), future, future);
    const lease = await store.acquire("pair", once0);
    assert.ok(lease, "taken over");
    await lease.release();
  });
});

describe("FsStateStore lock leases", () => {
  for (const [what, content] of [
    [
      "a live holder on another host",
      JSON.stringify({ pid: 1, host: "elsewhere", start: null, token: "x" }),
    ],
    [
      "a holder in another pid namespace",
      JSON.stringify({ pid: 1, host: hostname(), pidns: "pid:[1]", start: null, token: "x" }),
    ],
    ["a fresh foreign lock file", "locked by someone\n"],
  ] as const) {
    test(`respects ${what} while its lease is fresh`, async (t) => {
      const { store } = await storeIn(t);
      await writeFile(store.lockPath("pair"), content);
      assert.equal(await store.acquire("pair", once0), undefined);
    });
  }

  test("a held lock's lease is refreshed while it is held", async (t) => {
    const { store } = await storeIn(t);
    const lock = await store.acquire("pair", once0);
    assert.ok(lock);
    const past = new Date(Date.now() - 60_000);
    await utimes(store.lockPath("pair"), past, past);
    const watcher = watch(store.lockPath("pair"));
    await once(watcher, "change");
    watcher.close();
    assert.ok(Date.now() - (await stat(store.lockPath("pair"))).mtimeMs < TTL_MS);
    await lock.release();
  });
});

describe("FsStateStore records", () => {
  for (const [what, content] of [
    ["empty", ""],
    ["truncated", '{"source":"x","checks'],
    ["foreign", '{"hello":"world"}'],
  ] as const) {
    test(`a ${what} marker is a warning and no marker`, async (t) => {
      const { store, logger } = await storeIn(t);
      await writeFile(store.recordPath("k", "marker"), content);
      assert.equal(await store.readMarker("k"), undefined);
      assert.ok(logger.events.some((e) => e.message === "ignored unreadable state"));
    });
  }

  test("a damaged circuit file reads as closed", async (t) => {
    const { store, logger } = await storeIn(t);
    await store.updateCircuit("http://h:80", () => ({
      state: "open",
      failures: 1,
      openedAt: 0,
      openUntil: 10,
    }));
    assert.equal((await store.readCircuit("http://h:80")).state, "open");
    const { dir } = await storeIn(t);
    const other = new FsStateStore(dir, systemClock, logger);
    await mkdir(dir, { recursive: true });
    const [file] = (await readdir(store.dir)).filter((f) => f.startsWith("circuit-"));
    await writeFile(join(dir, String(file)), "{not json");
    assert.deepEqual(await other.readCircuit("http://h:80"), { state: "closed", failures: 0 });
  });

  test("another origin's open circuit renamed to this origin's file name reads as closed", async (t) => {
    const { store } = await storeIn(t);
    const open = {
      state: "open" as const,
      failures: 1,
      openedAt: 0,
      openUntil: Date.now() + 60_000,
    };
    await store.updateCircuit("http://dead:80", () => open);
    await store.updateCircuit("http://healthy:80", () => ({ state: "closed", failures: 0 }));
    const files = (await readdir(store.dir)).filter((f) => f.startsWith("circuit-"));
    const paths = await Promise.all(
      files.map(async (f) => [f, await readFile(join(store.dir, f), "utf8")] as const),
    );
    const dead = paths.find(([, text]) => text.includes("dead"))?.[0] as string;
    const healthy = paths.find(([, text]) => text.includes("healthy"))?.[0] as string;
    await rename(join(store.dir, dead), join(store.dir, healthy));
    const fresh = new FsStateStore(store.dir, systemClock, recorder());
    assert.equal((await fresh.readCircuit("http://healthy:80")).state, "closed");
  });
});

describe("circuit counts across processes", () => {
  test("a failure is counted atomically on the stored state, not on a cached copy", async (t) => {
    const { dir } = await storeIn(t);
    const logger = recorder();
    const policy = { ttlMs: 60_000, threshold: 2 };
    const one = new Circuits(
      new FsStateStore(dir, systemClock, logger),
      systemClock,
      logger,
      policy,
    );
    const two = new Circuits(
      new FsStateStore(dir, systemClock, logger),
      systemClock,
      logger,
      policy,
    );
    assert.equal(await one.isClosed("http://h:80"), true); // caches "closed, 0 failures"
    await two.failed("http://h:80", "s");
    await one.failed("http://h:80", "s");
    assert.equal(
      (await new FsStateStore(dir, systemClock, logger).readCircuit("http://h:80")).state,
      "open",
    );
  });
});

describe("FsStateStore: state files that are not plain files", () => {
  test("a marker that is a FIFO, or a link to /dev/zero, is set aside with a warning, never read", async (t) => {
    const { store, logger } = await storeIn(t);
    const fifo = store.recordPath("fifo", "marker");
    assert.equal(spawnSync("mkfifo", [fifo]).status, 0);
    const { symlink } = await import("node:fs/promises");
    await symlink("/dev/zero", store.recordPath("zero", "marker"));
    assert.equal(await store.readMarker("fifo"), undefined, "no blocking read of a FIFO");
    assert.equal(await store.readMarker("zero"), undefined, "no endless read through a link");
    const reasons = logger.events
      .filter((e) => e.message === "ignored unreadable state")
      .map((e) => (e.fields as { reason: string }).reason);
    assert.equal(reasons.length, 2);
    assert.ok(
      reasons.every((reason) => reason === "not a regular file"),
      `${reasons}`,
    );
  });
});

describe("FsStateStore: a destination folder's lock", () => {
  test("a folder replaced since: its lock is asked for by the folder now, by every run", async (t) => {
    const { dir, store } = await storeIn(t);
    const folder = join(dir, "..", "out");
    await mkdir(folder);
    const key = pathToFileURL(join(folder, "data.bin")).href;
    assert.equal(store.hasLeftovers(key), false);
    const first = await store.acquire(key, once0);
    assert.ok(first);
    await first.release();
    await rename(folder, `${folder}.old`);
    await mkdir(folder);
    const other = new FsStateStore(dir, systemClock, recorder());
    const held = await other.acquire(key, once0);
    assert.ok(held, "another run takes the lock in the new folder");
    assert.equal(await store.acquire(key, once0), undefined, "this run finds it held");
    await held.release();
  });

  test("a lock left in a folder already asked about is still found", async (t) => {
    // The folder's identity (which names its lock files) is remembered for these questions.
    const { dir, store } = await storeIn(t);
    const first = pathToFileURL(join(dir, "..", "a.bin")).href;
    const second = pathToFileURL(join(dir, "..", "b.bin")).href;
    assert.equal(store.hasLeftovers(first), false);
    assert.equal(store.hasLeftovers(second), false);
    const lease = await store.acquire(second, once0);
    assert.ok(lease);
    assert.equal(store.hasLeftovers(second), true, "its lock");
    assert.equal(store.hasLeftovers(first), false, "not another file's");
    await lease.release();
    assert.equal(store.hasLeftovers(second), false);
  });
});
