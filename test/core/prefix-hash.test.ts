/**
 * The prefix hasher hashes every byte exactly once, in file order, whatever the segmentation,
 * the chunking, the order in which chunks arrive and writes complete, and how late its reads
 * come back: property-based, against a one-shot hash of the same bytes. The "file" it reads
 * back from holds 0xEE wherever nothing was written yet, so reading too early would show.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import fc from "fast-check";
import { PrefixHasher } from "../../src/core/prefix-hash.js";
import { seeded } from "../helpers/server.js";

const RUNS = Number(process.env.PROPERTY_RUNS ?? 300);

interface Segment {
  start: number;
  end: number;
  /** Bytes offered (handed to the writer). */
  pushed: number;
  /** Bytes written to the file (readable back). */
  written: number;
  /** Chunks offered, not yet written. */
  pending: Array<{ at: number; bytes: Buffer }>;
}

/** A recorder of what the hasher fed its hashes, and a real hash beside it. */
function recorder() {
  const fed: Buffer[] = [];
  const hash = createHash("sha256");
  return {
    updatable: {
      update(data: Uint8Array) {
        fed.push(Buffer.from(data));
        hash.update(data);
      },
    },
    fed,
    hash,
  };
}

/**
 * Plays one random schedule: segments of a random file, chunks of random sizes offered in a
 * random order, writes completing in a random order (in order within a segment, as the part
 * writer does), reads answered after a random number of other events.
 */
async function play(sizes: number[], seed: number, bufferBytes: number): Promise<void> {
  const random = seeded(seed);
  const pick = (n: number) => Math.floor(random() * n);
  const total = sizes.reduce((a, b) => a + b, 0);
  const content = Buffer.alloc(total);
  for (let i = 0; i < total; i += 1) content[i] = pick(256);
  const file = Buffer.alloc(total, 0xee);
  const segments: Segment[] = [];
  let at = 0;
  for (const size of sizes) {
    segments.push({ start: at, end: at + size, pushed: at, written: at, pending: [] });
    at += size;
  }
  const reads: Array<() => void> = [];
  let prompt = false;
  const { updatable, fed } = recorder();
  const hasher = new PrefixHasher(
    [updatable],
    total,
    {
      read: (buffer, length, position) =>
        new Promise<number>((resolve) => {
          const answer = () => {
            // Copied when answered: a read sees the file as it is then.
            const n = Math.min(length, total - position);
            file.copy(buffer, 0, position, position + n);
            resolve(n);
          };
          if (prompt) queueMicrotask(answer);
          else reads.push(answer);
        }),
      readableEnd: (position) => {
        const s = segments.find((x) => x.start <= position && position < x.end);
        return s && s.written > position ? s.written : position;
      },
    },
    bufferBytes,
  );
  assert.ok(hasher.bufferBytes <= bufferBytes, "memory: one bounded buffer");

  // Bounded: every event moves a byte, completes a write or answers a read.
  for (let step = 0; step < total * 4 + 1000; step += 1) {
    const canOffer = segments.filter((s) => s.pushed < s.end);
    const canWrite = segments.filter((s) => s.pending.length > 0);
    if (canOffer.length === 0 && canWrite.length === 0 && reads.length === 0) break;
    const kind = pick(3);
    if (kind === 0 && canOffer.length > 0) {
      const s = canOffer[pick(canOffer.length)] as Segment;
      const n = 1 + pick(Math.min(s.end - s.pushed, 40));
      const bytes = content.subarray(s.pushed, s.pushed + n);
      hasher.offer(s.pushed, bytes);
      s.pending.push({ at: s.pushed, bytes });
      s.pushed += n;
    } else if (kind === 1 && canWrite.length > 0) {
      const s = canWrite[pick(canWrite.length)] as Segment;
      const write = s.pending.shift() as { at: number; bytes: Buffer };
      write.bytes.copy(file, write.at);
      s.written = write.at + write.bytes.length;
      hasher.poke();
    } else if (reads.length > 0) {
      (reads.shift() as () => void)();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  assert.ok(
    segments.every((s) => s.written === s.end),
    "the schedule wrote everything",
  );
  prompt = true;
  for (const answer of reads.splice(0)) answer();
  await hasher.finish();
  const hashed = Buffer.concat(fed);
  assert.equal(hashed.length, total, "every byte hashed exactly once");
  assert.ok(hashed.equals(content), "in file order, and the bytes written");
}

describe("the prefix hasher", () => {
  test("hashes every byte once, in order, over random segments, chunks and completion orders", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 6 }),
        fc.integer(),
        fc.integer({ min: 1, max: 64 }),
        (sizes, seed, bufferBytes) => play(sizes, seed, bufferBytes),
      ),
      { numRuns: RUNS },
    );
  });

  test("its digest is the one-shot digest of the file", async () => {
    const { updatable, hash } = recorder();
    const content = Buffer.from("one pass, in order, once".repeat(100));
    const mid = 1000;
    let written = [0, mid];
    const hasher = new PrefixHasher([updatable], content.length, {
      read: async (buffer, length, position) => {
        const n = Math.min(length, content.length - position);
        content.copy(buffer, 0, position, position + n);
        return n;
      },
      readableEnd: (p) => (p < mid ? Math.max(p, written[0] ?? 0) : Math.max(p, written[1] ?? 0)),
    });
    // The second segment arrives first (written only), then the first one (offered in memory).
    written = [0, content.length];
    hasher.poke();
    hasher.offer(0, content.subarray(0, mid));
    written = [mid, content.length];
    await hasher.finish();
    assert.equal(hash.digest("hex"), createHash("sha256").update(content).digest("hex"));
  });

  test("a byte that never becomes readable is an error, not a short digest", async () => {
    const hasher = new PrefixHasher([{ update: () => {} }], 10, {
      read: async () => 0,
      readableEnd: (p) => p,
    });
    await assert.rejects(hasher.finish(), /stopped at 0 of 10 bytes/);
  });
});
