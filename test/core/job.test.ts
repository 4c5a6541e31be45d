/** The core on its own: one job against a runtime of fakes (memory store, fake clock, fake source). */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { PassThrough } from "node:stream";
import { describe, test } from "node:test";
import { markerKey, runJob } from "../../src/core/job.js";
import type { JobSpec } from "../../src/core/spec.js";
import { SyncError } from "../../src/errors.js";
import type { LogEvent } from "../../src/log/events.js";
import { MemoryBacking, MemoryStateStore } from "../../src/state/memory-store.js";
import type { StateStore } from "../../src/state/store.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { FakeSource, fakeRuntime, recordingLogger } from "../helpers/fakes.js";

const spec = (overrides: Partial<JobSpec> = {}): JobSpec => ({
  source: {
    kind: "http",
    href: "https://origin.test/data.bin",
    display: "https://origin.test/data.bin",
    origin: "https://origin.test:443",
  },
  destination: "/data/data.bin",
  algorithm: "sha256",
  maxAttempts: 5,
  retryMaxTimeMs: 300_000,
  force: false,
  waitLockMs: 0,
  ...overrides,
});

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");
const body = Buffer.from("the body of the file, version one\n");
const never = new AbortController().signal;

function world(source: FakeSource, clock = new FakeClock({ autoAdvance: true })) {
  const backing = new MemoryBacking();
  const logger = recordingLogger();
  const store = new MemoryStateStore(clock, backing);
  const runtime = fakeRuntime({ store, clock, source, logger });
  return { backing, logger, store, runtime, clock };
}

describe("runJob", () => {
  test("syncs a pair, then answers the next run from the fast path without a lease", async () => {
    const source = new FakeSource(body);
    const { runtime, logger, backing } = world(source);
    const first = await runJob(spec(), runtime, never);
    assert.equal(first.status, "synced");
    assert.equal(first.checksum, sha256(body));
    assert.deepEqual(runtime.destinations.files.get("/data/data.bin")?.data, body);
    assert.equal(backing.leases.size, 0, "the lease is released");
    assert.equal(backing.parts.size, 0, "no part record left");

    const fencesBefore = [...backing.fences.values()];
    const second = await runJob(spec(), runtime, never);
    assert.equal(second.status, "unchanged");
    assert.deepEqual([...backing.fences.values()], fencesBefore, "no lease was taken");
    assert.equal(runtime.destinations.commits, 1);
    assert.ok(logger.messages().includes("destination already up-to-date"));
  });

  test("a logger that takes no info lines is handed none (a sync and a no-op); warnings still come", async () => {
    const source = new FakeSource(body);
    const clock = new FakeClock({ autoAdvance: true });
    const recorded = recordingLogger();
    const logger = {
      ...recorded,
      enabled: (level: string) => level !== "info" && level !== "debug",
    };
    const store = new MemoryStateStore(clock, new MemoryBacking());
    const runtime = fakeRuntime({ store, clock, source, logger });
    assert.equal((await runJob(spec(), runtime, never)).status, "synced");
    assert.equal((await runJob(spec(), runtime, never)).status, "unchanged");
    // A changed source whose first attempt fails: a warning, then the new version.
    source.script.push("fail");
    source.body = Buffer.from("the body of the file, version two\n");
    source.etag = '"two"';
    assert.equal((await runJob(spec(), runtime, never)).status, "synced");
    const levels = recorded.events.map((event) => event.level);
    assert.ok(!levels.includes("info"), `info events built: ${recorded.messages().join(", ")}`);
    assert.ok(levels.includes("warning"), "the failed attempt's warning still comes");
  });

  test("transient failures are retried after backoff on the injected clock", async () => {
    const source = new FakeSource(body, ["fail", "fail"]);
    const { runtime, clock } = world(source);
    const startedAt = clock.monotonic();
    const result = await runJob(spec(), runtime, never);
    assert.equal(result.status, "synced");
    assert.equal(result.attempts, 3);
    // 1 s then 2 s, each with jitter of at most a quarter.
    const waited = clock.monotonic() - startedAt;
    assert.ok(waited >= 3000 * 0.75 && waited <= 3000 * 1.25 + 1000, `waited ${waited} ms`);
  });

  test("a permanent failure is one attempt, and the circuit does not count it", async () => {
    const source = new FakeSource(body, ["not-found"]);
    const { runtime, store } = world(source);
    const result = await runJob(spec(), runtime, never);
    assert.equal(result.status, "failed");
    assert.equal(result.error?.code, "not_found");
    assert.equal(result.attempts, 1);
    assert.deepEqual(await store.readCircuit("https://origin.test:443"), {
      state: "closed",
      failures: 0,
    });
  });

  test("a lease the store lost, with no other run taking it, fails the pair (write_error), never skipped", async () => {
    const hold = new PassThrough();
    const source = new FakeSource(body, [{ hold }]);
    const paused = new FakeClock();
    const { runtime, logger, backing } = world(source, paused);
    const running = runJob(spec(), runtime, never);
    await waitFor(() => source.opens.length === 1, "the transfer to start");
    hold.write(body.subarray(0, 10));

    // The store forgets the lease (a Redis restarted without persistence): nobody took it, no
    // fence was counted past the holder's.
    backing.leases.delete("memory:///data/data.bin");
    paused.advance(1000); // the holder's next renewal notices
    hold.end(body.subarray(10));

    const result = await running;
    assert.equal(result.status, "failed");
    assert.equal(result.error?.code, "write_error");
    assert.match(String(result.error?.message), /no longer has the lease\): nothing was committed/);
    assert.equal(runtime.destinations.commits, 0, "never committed");
    assert.ok(logger.events.some((event: LogEvent) => event.message === "lock lost"));
  });

  test("a lease lost to a run that committed and let go since: skipped with that run's checksum, not failed", async () => {
    const hold = new PassThrough();
    const source = new FakeSource(body, [{ hold }]);
    const paused = new FakeClock();
    const { runtime, backing } = world(source, paused);
    const running = runJob(spec(), runtime, never);
    await waitFor(() => source.opens.length === 1, "the transfer to start");
    hold.write(body.subarray(0, 10));

    // Another run takes the lapsed lease, commits the file and its marker, and lets go.
    const other = new FakeClock({ start: paused.now() });
    other.advance(10_000);
    const otherStore = new MemoryStateStore(other, backing);
    const taker = await otherStore.acquire("memory:///data/data.bin", { ttlMs: 5000, waitMs: 0 });
    assert.ok(taker);
    const fingerprint = { size: body.length, mtimeMs: 5000, ctimeMs: 5000, ino: 42 };
    runtime.destinations.files.set("/data/data.bin", { data: body, fingerprint });
    await otherStore.writeMarker(
      markerKey(spec().source.display, "memory:///data/data.bin"),
      {
        source: spec().source.display,
        destination: "/data/data.bin",
        validators: { etag: '"v1"' },
        algorithm: "sha256",
        checksum: sha256(body),
        destinationSize: fingerprint.size,
        destinationMtimeMs: fingerprint.mtimeMs,
        destinationCtimeMs: fingerprint.ctimeMs,
        destinationIno: fingerprint.ino,
        syncedAt: new Date(other.now()).toISOString(),
      },
      taker.fence,
    );
    await taker.release();
    paused.advance(1000); // the holder's next renewal notices
    hold.end(body.subarray(10));

    const result = await running;
    assert.equal(result.status, "skipped");
    assert.equal(result.checksum, sha256(body));
    assert.equal(runtime.destinations.commits, 0, "never committed");
  });

  test("a lease lost mid-transfer stops the job: no commit, no marker, `lock lost`", async () => {
    const hold = new PassThrough();
    const source = new FakeSource(body, [{ hold }]);
    const paused = new FakeClock();
    const { runtime, logger, backing, store } = world(source, paused);
    const running = runJob(spec(), runtime, never);
    await waitFor(() => source.opens.length === 1, "the transfer to start");
    hold.write(body.subarray(0, 10));

    // Another process, whose time goes on while this one is frozen, takes the lease over.
    const other = new FakeClock({ start: paused.now() });
    other.advance(10_000);
    const thief = await new MemoryStateStore(other, backing).acquire("memory:///data/data.bin", {
      ttlMs: 5000,
      waitMs: 0,
    });
    assert.ok(thief, "the silent holder's lease is taken over");
    paused.advance(1000); // the holder's next renewal notices
    hold.end(body.subarray(10));

    const result = await running;
    assert.equal(result.status, "skipped");
    assert.equal(runtime.destinations.commits, 0, "never committed");
    assert.equal(
      await store.readMarker(markerKey(spec().source.display, "memory:///data/data.bin")),
      undefined,
    );
    const lost = logger.events.find((event: LogEvent) => event.message === "lock lost");
    assert.match(reasonOf(lost), /lock lost/);
    assert.ok(backing.leases.get("memory:///data/data.bin"), "the new holder's lease is untouched");
  });

  test("the run's deadline fails the pair with code `deadline`; any other abort rejects", async () => {
    const hold = new PassThrough();
    const { runtime } = world(new FakeSource(body, [{ hold }]));
    const deadline = new AbortController();
    const running = runJob(spec(), runtime, deadline.signal);
    await new Promise((resolve) => setImmediate(resolve));
    deadline.abort(new SyncError("deadline", "run deadline of 1 s passed"));
    const result = await running;
    assert.equal(result.status, "failed");
    assert.equal(result.error?.code, "deadline");

    const hold2 = new PassThrough();
    const { runtime: other } = world(new FakeSource(body, [{ hold: hold2 }]));
    const user = new AbortController();
    const interrupted = runJob(spec(), other, user.signal);
    await new Promise((resolve) => setImmediate(resolve));
    user.abort(new Error("SIGTERM"));
    await assert.rejects(interrupted, /SIGTERM/);
  });

  test("a lease taken over just as the run commits: synced, `lock lost`, no marker written", async () => {
    const source = new FakeSource(body);
    const paused = new FakeClock();
    const { runtime, logger, backing, store } = world(source, paused);
    let thief: Awaited<ReturnType<StateStore["acquire"]>>;
    const failpoint = async (name: string) => {
      if (name !== "after-rename") return;
      // Another process, whose time went on while this one was frozen, takes the lease over.
      const other = new FakeClock({ start: paused.now() });
      other.advance(10_000);
      thief = await new MemoryStateStore(other, backing).acquire("memory:///data/data.bin", {
        ttlMs: 5000,
        waitMs: 0,
      });
    };
    const result = await runJob(spec(), { ...runtime, testHooks: { failpoint } }, never);
    assert.ok(thief, "taken over");
    assert.equal(result.status, "synced", "the destination was replaced: never reported failed");
    assert.equal(runtime.destinations.commits, 1);
    const lost = logger.events.find((event: LogEvent) => event.message === "lock lost");
    assert.match(reasonOf(lost), /as this run committed/);
    assert.equal(
      await store.readMarker(markerKey(spec().source.display, "memory:///data/data.bin")),
      undefined,
      "no marker written under a lost lease",
    );
    assert.ok(backing.leases.get("memory:///data/data.bin"), "the new holder's lease is untouched");
  });

  test("a marker write failing after the commit is a warning: the pair is synced", async () => {
    const source = new FakeSource(body);
    const { runtime, logger, store } = world(source);
    const failing = wrap(store, {
      writeMarker: async () => {
        throw new Error("disk full");
      },
    });
    const result = await runJob(spec(), { ...runtime, store: failing }, never);
    assert.equal(result.status, "synced");
    assert.ok(logger.messages().includes("state not recorded"));
  });

  test("a circuit update failing after the commit is a warning: the pair is synced", async () => {
    const source = new FakeSource(body);
    const { runtime, logger, store, backing } = world(source);
    // One failure on record: the success that follows must write the circuit, and that write fails.
    backing.circuits.set("https://origin.test:443", { state: "closed", failures: 1 });
    const failing: StateStore = wrap(store, {
      updateCircuit: async () => {
        throw new Error("ENOSPC");
      },
    });
    const result = await runJob(
      spec(),
      {
        ...runtime,
        store: failing,
        health: fakeRuntime({ store: failing, clock: runtime.clock as FakeClock, source }).health,
      },
      never,
    );
    assert.equal(result.status, "synced");
    assert.equal(runtime.destinations.commits, 1);
    assert.ok(logger.messages().includes("state not recorded"));
  });

  test("a kept part whose writer never closed it is not resumed while that writer may live", async () => {
    const source = new FakeSource(body);
    const { runtime, logger, backing } = world(source);
    backing.parts.set("memory:///data/data.bin", {
      source: spec().source.display,
      validators: { etag: source.etag, size: body.length },
      file: { name: "part-x", dev: 1, ino: 99, uid: 0, size: 0 },
      fence: 7,
      holder: "a run that may still be writing",
      closed: false,
    });
    const result = await runJob(spec(), runtime, never);
    assert.equal(result.status, "synced");
    assert.equal(source.opens[0]?.offset, 0, "fetched from zero");
    const discarded = logger.events.find((event) => event.message === "discarded part file");
    assert.match(reasonOf(discarded), /may still be running/);
  });

  test("a part cut off mid-body is kept for a resume, unless writing it to disk failed", async () => {
    const large = createHash("sha512").update("large").digest().toString("hex").repeat(1024);
    for (const resumable of [true, false]) {
      const hold = new PassThrough();
      const { runtime, logger, backing } = world(new FakeSource(Buffer.from(large), [{ hold }]));
      const running = runJob(spec({ maxAttempts: 1 }), runtime, never);
      hold.write(large.slice(0, 100_000));
      await waitFor(() => runtime.destinations.parts[0]?.data().length === 100_000, "the bytes");
      const part = runtime.destinations.parts[0];
      assert.ok(part);
      // The destination's writer saw a write or a flush to disk fail.
      part.resumable = resumable;
      hold.destroy(new SyncError("network", "connection reset", { retryable: true }));
      const result = await running;
      assert.equal(result.status, "failed");
      const record = backing.parts.get("memory:///data/data.bin");
      const discarded = logger.events.find((event) => event.message === "discarded part file");
      if (resumable) {
        assert.equal(record?.closed, true, "kept, closed, for a resume");
        assert.equal(record?.file.size, 100_000);
        assert.equal(discarded, undefined);
      } else {
        assert.equal(record, undefined, "no record: nothing to resume");
        assert.equal(part.data().length, 0, "the part is removed");
        assert.match(reasonOf(discarded), /writing it to disk failed/);
      }
    }
  });

  test("a spec refused by the plan fails without a lease or a request", async () => {
    const source = new FakeSource(body);
    const { runtime, backing } = world(source);
    const result = await runJob(
      spec({
        invalid: { code: "invalid_source", message: "the name would leave the artifact root" },
      }),
      runtime,
      never,
    );
    assert.equal(result.error?.code, "invalid_source");
    assert.equal(source.opens.length, 0);
    assert.equal(backing.fences.size, 0);
  });

  test("a spec is plain data: it survives a JSON round trip unchanged", () => {
    const original = spec({ expected: { algorithm: "sha256", hex: "0".repeat(64) } });
    assert.deepEqual(JSON.parse(JSON.stringify(original)), original);
  });
});

/** `store`, with some of its methods replaced. */
function wrap(store: StateStore, replaced: Partial<StateStore>): StateStore {
  return {
    acquire: (key, options) => store.acquire(key, options),
    readMarker: (key) => store.readMarker(key),
    writeMarker: (key, marker, fence) => store.writeMarker(key, marker, fence),
    readPart: (key) => store.readPart(key),
    writePart: (key, record, fence) => store.writePart(key, record, fence),
    deletePart: (key, fence) => store.deletePart(key, fence),
    readCircuit: (origin) => store.readCircuit(origin),
    updateCircuit: (origin, update) => store.updateCircuit(origin, update),
    ...replaced,
  };
}

function reasonOf(event: LogEvent | undefined): string {
  return event ? String((event.fields as { reason?: unknown }).reason) : "(no such event)";
}

/** Resolves once `predicate` holds, checking after each turn of the event loop (bounded). */
async function waitFor(predicate: () => boolean, what: string): Promise<void> {
  for (let turn = 0; turn < 10_000; turn += 1) {
    if (predicate()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`timed out waiting for ${what}`);
}
