import assert from "node:assert/strict";
import { constants } from "node:fs";
import { type FileHandle, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { MAX_FLUSHES_IN_FLIGHT, PartWriter } from "../../../src/destinations/local/part-writer.js";
import { OpenFile } from "../../../src/fs/open-file.js";

/** A FileHandle stand-in that records each writev's start and end, and can delay or fail one. */
function recordingHandle(behaviour: (call: number) => { delayMs?: number; fail?: boolean }) {
  const events: string[] = [];
  let calls = 0;
  const handle = {
    async writev(buffers: Uint8Array[], position: number) {
      const call = calls++;
      const size = buffers.reduce((sum, b) => sum + b.length, 0);
      events.push(`start ${call} @${position}`);
      const { delayMs = 0, fail = false } = behaviour(call);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      events.push(`end ${call}`);
      if (fail) throw Object.assign(new Error("injected EIO"), { code: "EIO" });
      return { bytesWritten: size, buffers };
    },
    async datasync() {},
    async sync() {},
  };
  return { handle: handle as unknown as FileHandle, events };
}

const chunk = (size: number) => new Uint8Array(size);

describe("PartWriter keeps the part file a contiguous prefix", () => {
  test("a slow first write is finished before the next one starts", async () => {
    const { handle, events } = recordingHandle((call) => ({ delayMs: call === 0 ? 50 : 0 }));
    const writer = new PartWriter(handle, 0, { batchBytes: 10 });
    for (let i = 0; i < 4; i += 1) await writer.push(chunk(10));
    await writer.finish();
    assert.deepEqual(events, [
      "start 0 @0",
      "end 0",
      "start 1 @10",
      "end 1",
      "start 2 @20",
      "end 2",
      "start 3 @30",
      "end 3",
    ]);
  });

  test("after a failed write nothing later is written, and finish reports the failure", async () => {
    const { handle, events } = recordingHandle((call) => ({
      delayMs: call === 0 ? 30 : 0,
      fail: call === 0,
    }));
    const writer = new PartWriter(handle, 0, { batchBytes: 10 });
    await writer.push(chunk(10));
    const waited = writer.push(chunk(10));
    await waited?.catch(() => {});
    await assert.rejects(writer.finish(), /injected EIO/);
    assert.deepEqual(events, ["start 0 @0", "end 0"], "the second batch never reached the disk");
  });

  test("abandon writes what arrived, in order, and nothing after a failure", async () => {
    const { handle, events } = recordingHandle(() => ({}));
    const writer = new PartWriter(handle, 100, { batchBytes: 1000 });
    await writer.push(chunk(10));
    await writer.push(chunk(5));
    await writer.abandon();
    assert.deepEqual(events, ["start 0 @100", "end 0"]);
  });
});

describe("PartWriter gives lent chunks back once written", () => {
  /** A real file behind the writer, with the synchronous write a small last batch takes. */
  async function realFile(t: { after(fn: () => unknown): void }) {
    const dir = await mkdtemp(join(tmpdir(), "part-writer-"));
    const file = await OpenFile.open(
      join(dir, "part"),
      constants.O_RDWR | constants.O_CREAT | constants.O_EXCL,
      0o600,
    );
    t.after(async () => {
      file.close();
      await rm(dir, { recursive: true, force: true });
    });
    return file;
  }

  test("a small body written at finish releases its chunks, once its bytes are in the file", async (t) => {
    const file = await realFile(t);
    assert.ok(file.writevSync, "the real file offers the synchronous write");
    const writer = new PartWriter(file, 0, { batchBytes: 1 << 20 });
    // The file's size when each release comes: a chunk released before its write shows less.
    const sizeAtRelease: number[] = [];
    for (let i = 0; i < 3; i += 1)
      writer.push(chunk(100), () => sizeAtRelease.push(file.stat().size));
    assert.deepEqual(sizeAtRelease, [], "nothing is released before it is written");
    await writer.finish();
    assert.deepEqual(sizeAtRelease, [300, 300, 300]);
  });

  test("a batch written in the thread pool releases its chunks too, each after its write", async (t) => {
    const file = await realFile(t);
    const writer = new PartWriter(file, 0, { batchBytes: 100 });
    const sizeAtRelease: number[] = [];
    for (let i = 0; i < 3; i += 1)
      await writer.push(chunk(100), () => sizeAtRelease.push(file.stat().size));
    await writer.finish();
    assert.deepEqual(sizeAtRelease, [100, 200, 300]);
  });
});

describe("PartWriter flushes to disk in the background", () => {
  const MiB = 1024 * 1024;

  /** A descriptor whose writes succeed at once and whose flushes are counted and scripted. */
  function flushingHandle(datasync: () => Promise<void> = async () => {}) {
    const handle = {
      flushes: 0,
      async writev(buffers: Uint8Array[]) {
        return { bytesWritten: buffers.reduce((sum, b) => sum + b.length, 0) };
      },
      datasync() {
        handle.flushes += 1;
        return datasync();
      },
    };
    return handle;
  }

  /** Resolves once `predicate` holds, checked after each turn of the event loop (bounded). */
  async function turnsUntil(predicate: () => boolean, what: string): Promise<void> {
    for (let turn = 0; turn < 1000 && !predicate(); turn += 1)
      await new Promise((resolve) => setImmediate(resolve));
    assert.ok(predicate(), `never came: ${what}`);
  }

  /** Hands `mib` MiB to `writer`, 1 MiB at a time, waiting when it asks to. */
  async function pushMiB(writer: PartWriter, mib: number): Promise<void> {
    for (let i = 0; i < mib; i += 1) await writer.push(chunk(MiB));
  }

  test("every 8 MiB written, not only at the commit", async () => {
    const handle = flushingHandle();
    const writer = new PartWriter(handle, 0);
    await pushMiB(writer, 17);
    await writer.finish();
    assert.equal(handle.flushes, 2, "after 8 and after 16 MiB");
  });

  test("a failed flush fails finish, and abandon says the part may not be resumed", async () => {
    const eio = () => Promise.reject(Object.assign(new Error("injected EIO"), { code: "EIO" }));
    const failing = new PartWriter(flushingHandle(eio), 0);
    await pushMiB(failing, 9);
    await assert.rejects(failing.finish(), /injected EIO/);

    const cut = new PartWriter(flushingHandle(eio), 0);
    await pushMiB(cut, 9);
    assert.equal(await cut.abandon(), false, "a failed flush: not resumable");

    const sound = new PartWriter(flushingHandle(), 0);
    await pushMiB(sound, 9);
    assert.equal(await sound.abandon(), true, "every write and flush done: resumable");
  });

  test(`at most ${MAX_FLUSHES_IN_FLIGHT} flushes in flight in the process: a part finding them busy skips its turn`, async () => {
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const busy = Array.from({ length: MAX_FLUSHES_IN_FLIGHT }, () => flushingHandle(() => held));
    const writers = busy.map((handle) => new PartWriter(handle, 0));
    for (const writer of writers) await pushMiB(writer, 8);
    await turnsUntil(() => busy.every((handle) => handle.flushes === 1), "the first flushes");
    const late = flushingHandle();
    const lateWriter = new PartWriter(late, 0);
    await pushMiB(lateWriter, 8);
    await lateWriter.flush(); // its 8 MiB written: its turn has come
    assert.equal(late.flushes, 0, "skipped while the others are on the disk");
    release();
    await Promise.all(writers.map((writer) => writer.finish()));
    await pushMiB(lateWriter, 8);
    await lateWriter.finish();
    assert.equal(late.flushes, 1, "its next turn flushes");
  });
});
