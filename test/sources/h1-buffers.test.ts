/**
 * The read buffers of the HTTP/1.1 client are reused (that is what makes it fast), so the classic
 * bug of such pools is tested here: a chunk handed to a consumer must never change before the
 * consumer has released it. Three ways:
 * - a model of the slots (buffers.ts): random reads, pieces handed out, released, given away;
 *   the room offered to the next read never overlaps a piece still held;
 * - a slow consumer over a real socket that holds chunks for a while and releases them out of
 *   order, checking at each release that the chunk is still what it was (and that slots were
 *   reused meanwhile: otherwise the check proves nothing); the same check run against a
 *   deliberately broken cursor (one fixed buffer, the classic bug) must catch it;
 * - a whole transfer through `streamInto` and the real part writer into a real file whose writes
 *   are held back a random while before they reach it (a slow disk): the file is the body, byte
 *   for byte; and a sink that releases on arrival instead of after its write (the consumer's
 *   version of the bug) is caught by the same check.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { type FileHandle, open, readFile } from "node:fs/promises";
import type { Socket } from "node:net";
import { join } from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import { streamInto } from "../../src/core/stream.js";
import type { PartSink } from "../../src/destinations/destination.js";
import { PartWriter } from "../../src/destinations/local/part-writer.js";
import { describeHttpError } from "../../src/sources/http/errors.js";
import { H1Agent } from "../../src/sources/http/h1/agent.js";
import { ReadCursor, SLOT_BYTES, Slot, SlotPool } from "../../src/sources/http/h1/buffers.js";
import type { Source } from "../../src/sources/source.js";
import { rawServer } from "../helpers/raw-server.js";
import { bytes, seeded } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const RUNS = Number(process.env.PROPERTY_RUNS ?? 300);
const never = () => new AbortController().signal;

/** Whether two views share any byte of memory. */
function overlap(a: Uint8Array, b: Uint8Array): boolean {
  if (a.buffer !== b.buffer) return false;
  return a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length;
}

describe("h1 read buffers", () => {
  test("property (model): the room for the next read never overlaps a piece still held", () => {
    type Op =
      | { kind: "read"; fraction: number; pieces: number; stream: boolean }
      | { kind: "release"; which: number }
      | { kind: "idle"; which: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        kind: fc.constant("read" as const),
        fraction: fc.double({ min: 0.01, max: 1, noNaN: true }),
        pieces: fc.integer({ min: 0, max: 3 }),
        stream: fc.boolean(),
      }),
      fc.record({ kind: fc.constant("release" as const), which: fc.nat() }),
      // A response done, the next request sent: the cursor gives its slot back meanwhile.
      fc.record({ kind: fc.constant("idle" as const), which: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), fc.integer({ min: 0, max: 8 }), (ops, keep) => {
        const pool = new SlotPool(keep);
        const cursors = [new ReadCursor(pool), new ReadCursor(pool)];
        const held: Array<{ piece: Buffer; slot: Slot }> = [];
        const given: Buffer[] = [];
        let turn = 0;
        for (const step of ops) {
          if (step.kind === "release") {
            const [piece] = held.splice(step.which % Math.max(1, held.length), 1);
            piece?.slot.release();
            continue;
          }
          if (step.kind === "idle") {
            const idle = cursors[step.which % 2] as ReadCursor;
            idle.idle();
            idle.busy();
            continue;
          }
          const cursor = cursors[turn++ % 2] as ReadCursor;
          const room = cursor.next();
          assert.ok(room.length >= 64 * 1024 || room.length === SLOT_BYTES, "room for a read");
          for (const other of [...held.map((h) => h.piece), ...given])
            assert.ok(!overlap(room, other), "the next read never lands on a held piece");
          const n = Math.max(1, Math.floor(step.fraction * room.length));
          room.fill(turn & 0xff, 0, n); // the read
          const slot = cursor.landed(n, room)?.slot as Slot; // never idle here
          // Hand out up to `pieces` disjoint pieces of what was read.
          for (let i = 0; i < step.pieces; i += 1) {
            const start = Math.floor((i * n) / step.pieces);
            const piece = room.subarray(start, Math.floor(((i + 1) * n) / step.pieces));
            if (piece.length === 0) continue;
            if (step.stream) {
              slot.given = true;
              given.push(piece);
            } else {
              slot.refs += 1;
              held.push({ piece, slot });
            }
          }
        }
        assert.ok(pool.free <= keep);
      }),
      { numRuns: RUNS },
    );
  });

  test("a slow consumer holding chunks: none changes before its release, and the slots are reused", async (t) => {
    const { changed, slots, total } = await holdChunks(t);
    assert.equal(changed, 0);
    // Without reuse every slot's worth of the body needs a new one; with up to 40 chunks held at
    // once (each may pin its own slot) a few dozen are made.
    assert.ok(slots * SLOT_BYTES < total / 2, `${slots} slots for ${total} bytes: reused`);
  });

  test("the same check catches the classic bug: one fixed read buffer, reused at every read", async (t) => {
    const next = Object.getOwnPropertyDescriptor(ReadCursor.prototype, "next");
    const landed = Object.getOwnPropertyDescriptor(ReadCursor.prototype, "landed");
    const fixed = new WeakMap<ReadCursor, Slot>();
    const slotOf = (cursor: ReadCursor) => {
      let slot = fixed.get(cursor);
      if (!slot) {
        slot = new Slot(new SlotPool());
        fixed.set(cursor, slot);
      }
      return slot;
    };
    Object.defineProperty(ReadCursor.prototype, "next", {
      value(this: ReadCursor) {
        return slotOf(this).buffer;
      },
      configurable: true,
    });
    Object.defineProperty(ReadCursor.prototype, "landed", {
      value(this: ReadCursor, _bytes: number, room: Buffer) {
        return { slot: slotOf(this), view: room };
      },
      configurable: true,
    });
    try {
      const { changed } = await holdChunks(t);
      assert.ok(changed > 0, "held chunks were overwritten, and the check saw it");
    } finally {
      Object.defineProperty(ReadCursor.prototype, "next", next as PropertyDescriptor);
      Object.defineProperty(ReadCursor.prototype, "landed", landed as PropertyDescriptor);
    }
  });

  test("a whole transfer over a slow disk: the part is the body, byte for byte", async (t) => {
    const result = await transferToSlowDisk(t, "after-write");
    assert.equal(result.changed, 0);
    assert.ok(result.file.equals(result.body), "the file is the body");
    assert.ok(result.slots * SLOT_BYTES < result.body.length / 2, `${result.slots} slots: reused`);
  });

  test("many bodies at once: once done, every slot ever made is free again (none dropped, none held by an idle connection)", async (t) => {
    // Slots dropped from the free list are not collected soon (V8 does not count shared
    // memory toward a collection), so a client that dropped them and made new ones grew
    // without bound under concurrent transfers; an idle keep-alive connection held its slot.
    // A body of its own per answer (its seed in a header), so that one answer's bytes written
    // over another's show.
    const size = 4 * 1024 * 1024;
    let answers = 0;
    const raw = await rawServer(t, async (socket: Socket) => {
      answers += 1;
      const body = bytes(size, 1000 + answers);
      socket.write(
        `HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\nX-Seed: ${1000 + answers}\r\n\r\n`,
      );
      for (let at = 0; at < size && !socket.destroyed; at += 256 * 1024) {
        if (!socket.write(body.subarray(at, at + 256 * 1024)))
          await new Promise((resolve) => socket.once("drain", resolve));
      }
    });
    const agent = new H1Agent({ timeoutMs: 5000 });
    t.after(() => agent.close());
    // Every chunk is held until all the bodies have arrived: each pins its slots at once. At its
    // release each is checked against its copy taken on arrival: a read parsed where another
    // connection's read lands next (the shared idle room) would have changed.
    const held: Array<{ chunk: Buffer; copy: Buffer; release: () => void }> = [];
    let changed = 0;
    const receive = async () => {
      const response = await agent.request(new URL(raw.url("/")), {
        method: "GET",
        headers: {},
        signal: never(),
      });
      const seed = Number(response.headers["x-seed"]);
      const copies: Buffer[] = [];
      await new Promise<void>((resolve, reject) => {
        response.body.lend({
          chunk(chunk, release) {
            const copy = Buffer.from(chunk);
            copies.push(copy);
            held.push({ chunk, copy, release });
          },
          end: resolve,
          error: reject,
        });
      });
      return { seed, received: Buffer.concat(copies) };
    };
    // Twice: the second round goes over the idle connections of the first, whose first read
    // of each answer may land in the room idle connections share, and is moved into a slot.
    for (let round = 1; round <= 2; round += 1) {
      const received = await Promise.all(Array.from({ length: 12 }, receive));
      for (const { chunk, copy, release } of held.splice(0)) {
        if (!chunk.equals(copy)) changed += 1;
        release();
      }
      assert.equal(changed, 0, `round ${round}: chunks changed while held`);
      for (const one of received)
        assert.ok(one.received.equals(bytes(size, one.seed)), `round ${round}: each body whole`);
      const { made, free } = agent.slots;
      assert.ok(made > 32, `${made} slots made: more than a free list of 32 would have kept`);
      assert.equal(free, made, `round ${round}: every slot made is back in the free list`);
    }
    assert.equal(raw.connections, 12, "the second round reused the first round's connections");
  });

  test("answers with Connection: close: every slot made is free again", async (t) => {
    // A connection closed inside a read's callback was asked for the next read's room after it
    // closed: the slot it got then was never given back (one per answer).
    const body = bytes(100_000, 94);
    const raw = await rawServer(t, async (socket: Socket) => {
      socket.end(
        Buffer.concat([
          Buffer.from(
            `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
          ),
          body,
        ]),
      );
    });
    const agent = new H1Agent({ timeoutMs: 5000 });
    t.after(() => agent.close());
    for (let i = 0; i < 20; i += 1) {
      const response = await agent.request(new URL(raw.url("/")), {
        method: "GET",
        headers: {},
        signal: never(),
      });
      const chunks: Buffer[] = [];
      await new Promise<void>((resolve, reject) => {
        response.body.lend({
          chunk(chunk, release) {
            chunks.push(Buffer.from(chunk));
            release();
          },
          end: resolve,
          error: reject,
        });
      });
      assert.ok(Buffer.concat(chunks).equals(body), `answer ${i}: the body`);
    }
    assert.equal(raw.connections, 20, "each answer on its own connection");
    const { made, free } = agent.slots;
    assert.equal(free, made, `${made} slots made, ${free} free`);
  });

  test("the same check catches a sink that releases a chunk on arrival instead of after its write", async (t) => {
    const result = await transferToSlowDisk(t, "on-arrival");
    assert.ok(result.changed > 0, "chunks changed before their write read them");
    assert.ok(!result.file.equals(result.body), "and the file is wrong");
  });
});

/** A server that sends `size` pseudo-random bytes as fast as the client takes them. */
async function sender(t: import("node:test").TestContext, body: Buffer) {
  return rawServer(t, async (socket: Socket) => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
    for (let at = 0; at < body.length && !socket.destroyed; at += 256 * 1024) {
      if (!socket.write(body.subarray(at, at + 256 * 1024)))
        await new Promise((resolve) => socket.once("drain", resolve));
    }
  });
}

/**
 * Receives 24 MiB with a consumer that keeps each chunk for a random while (up to 40 held at
 * once, released out of order) and checks, as it releases each, that its bytes are unchanged.
 */
async function holdChunks(
  t: import("node:test").TestContext,
): Promise<{ changed: number; slots: number; total: number }> {
  const body = bytes(24 * 1024 * 1024, 91);
  const raw = await sender(t, body);
  const agent = new H1Agent({ timeoutMs: 5000 });
  t.after(() => agent.close());
  const response = await agent.request(new URL(raw.url("/")), {
    method: "GET",
    headers: {},
    signal: never(),
  });
  const random = seeded(7);
  const held: Array<{ chunk: Buffer; copy: Buffer; release: () => void }> = [];
  const copies: Buffer[] = [];
  let changed = 0;
  const check = (entry: (typeof held)[number]) => {
    if (!entry.chunk.equals(entry.copy)) changed += 1;
    entry.release();
  };
  await new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const releaseSome = () => {
      timer = undefined;
      // Out of order: random ones of those held.
      for (let n = Math.floor(random() * held.length); n > 0; n -= 1)
        check(held.splice(Math.floor(random() * held.length), 1)[0] as (typeof held)[number]);
      if (held.length < 40) response.body.resumeLending();
      if (held.length > 0) timer = setTimeout(releaseSome, random() * 5);
    };
    response.body.lend({
      chunk(chunk, release) {
        const copy = Buffer.from(chunk);
        copies.push(copy);
        held.push({ chunk, copy, release });
        if (held.length >= 40) response.body.pauseLending();
        timer ??= setTimeout(releaseSome, random() * 5);
      },
      end() {
        clearTimeout(timer);
        for (const entry of held.splice(0)) check(entry);
        resolve();
      },
      error: reject,
    });
  });
  assert.ok(Buffer.concat(copies).equals(body), "what arrived is the body");
  return { changed, slots: agent.slots.made, total: body.length };
}

/**
 * One transfer through `streamInto` into the real part writer and a real file, whose writes wait
 * a random while before they are made (a slow disk: the buffers are read only then).
 * `release`: when the sink lets a chunk go: after its write (the real part writer) or on
 * arrival (the bug). `changed`: chunks whose bytes differed at their write from their arrival.
 */
async function transferToSlowDisk(
  t: import("node:test").TestContext,
  release: "after-write" | "on-arrival",
): Promise<{ body: Buffer; file: Buffer; changed: number; slots: number }> {
  const body = bytes(12 * 1024 * 1024, 92);
  const raw = await sender(t, body);
  const agent = new H1Agent({ timeoutMs: 5000 });
  t.after(() => agent.close());
  const random = seeded(11);
  const hashes = new Map<Uint8Array, string>();
  const digest = (chunk: Uint8Array) => createHash("sha1").update(chunk).digest("hex");
  let changed = 0;
  // A real file, whose writes wait a random while before they reach it: the slow disk, on which
  // a chunk released too early is read into again before its write has taken its bytes.
  const path = join(await tempDir(t), "part.bin");
  const real = await open(path, "w");
  t.after(() => real.close());
  const handle = {
    async writev(buffers: Uint8Array[], position: number) {
      await new Promise((resolve) => setTimeout(resolve, random() * 15));
      for (const buffer of buffers) {
        const wanted = hashes.get(buffer);
        if (wanted !== undefined && wanted !== digest(buffer)) changed += 1;
      }
      return real.writev(buffers, position);
    },
    datasync: () => real.datasync(),
    sync: () => real.sync(),
  } as unknown as FileHandle;
  const writer = new PartWriter(handle, 0, { batchBytes: 512 * 1024 });
  const sink = {
    offset: 0,
    push(chunk: Uint8Array, done?: () => void) {
      hashes.set(chunk, digest(chunk));
      if (release === "on-arrival") {
        done?.();
        return writer.push(chunk);
      }
      return writer.push(chunk, done);
    },
    finish: () => writer.finish(),
  } as unknown as PartSink;
  const response = await agent.request(new URL(raw.url("/")), {
    method: "GET",
    headers: {},
    signal: never(),
  });
  const source = { describeError: (error: unknown) => describeHttpError(error, "x") } as Source;
  const received = await streamInto({ source, signal: never() }, sink, [], {
    kind: "body",
    body: response.body,
    offset: 0,
    length: body.length,
    validators: {},
    stated: [],
  });
  assert.equal(received, body.length);
  return { body, file: await readFile(path), changed, slots: agent.slots.made };
}
