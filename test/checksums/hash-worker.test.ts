/**
 * The hash worker on its own: bytes lent from shared buffers (and copies) hashed exactly once, in
 * order, whatever the chunking; a lent range's `onHashed` never comes before its bytes were hashed
 * (bytes overwritten right after it do not change the digest); the ring overflowing into the
 * backlog; close and failure release everything and leave no thread behind.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { blake3Available, newBlake3 } from "../../src/checksums/blake3.js";
import { RING_ENTRIES } from "../../src/checksums/hash-protocol.js";
import { HashWorker } from "../../src/checksums/hash-worker.js";
import { bytes } from "../helpers/server.js";

const RUNS = Number(process.env.PROPERTY_RUNS ?? 40);

/** `data` cut into chunks of the given sizes (cycled), each copied into a shared slot. */
function* sharedChunks(data: Buffer, slotBytes: number, sizes: number[]) {
  let slot = new Uint8Array(new SharedArrayBuffer(slotBytes));
  let inSlot = 0;
  for (let at = 0, index = 0; at < data.length; index += 1) {
    const size = Math.min(sizes[index % sizes.length] as number, data.length - at, slotBytes);
    if (slotBytes - inSlot < size) {
      slot = new Uint8Array(new SharedArrayBuffer(slotBytes));
      inSlot = 0;
    }
    const view = slot.subarray(inSlot, inSlot + size);
    view.set(data.subarray(at, at + size));
    inSlot += size;
    at += size;
    yield view;
  }
}

describe("hash worker", () => {
  test("lent and copied ranges, any chunking and slot size: the digest of exactly the bytes, in order", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 600_000 }),
        fc.integer({ min: 1, max: 256 * 1024 }),
        fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 0, max: 4 }),
        async (size, slotBytes, sizes, copyEvery) => {
          const data = bytes(size, size + slotBytes);
          const worker = new HashWorker(["sha256", "md5"]);
          try {
            let hashed = 0;
            let lent = 0;
            let index = 0;
            for (const chunk of sharedChunks(data, slotBytes, sizes)) {
              index += 1;
              if (copyEvery > 0 && index % copyEvery === 0) {
                worker.update(Buffer.from(chunk));
                continue;
              }
              lent += 1;
              // Once hashed, the memory is the caller's again: scribbling on it changes nothing.
              worker.lend(chunk, () => {
                hashed += 1;
                chunk.fill(0xee);
              });
            }
            const digests = await worker.finish();
            assert.equal(digests.get("sha256"), createHash("sha256").update(data).digest("hex"));
            assert.equal(digests.get("md5"), createHash("md5").update(data).digest("hex"));
            assert.equal(hashed, lent, "every lent range was handed back");
          } finally {
            worker.close();
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  test("more ranges than the ring holds wait in order, none lost", async () => {
    const data = bytes(RING_ENTRIES * 3 + 17, 5);
    const shared = new Uint8Array(new SharedArrayBuffer(data.length));
    shared.set(data);
    const worker = new HashWorker(["sha256"]);
    let hashed = 0;
    try {
      for (let at = 0; at < data.length; at += 1)
        worker.lend(shared.subarray(at, at + 1), () => {
          hashed += 1;
        });
      const digests = await worker.finish();
      assert.equal(digests.get("sha256"), createHash("sha256").update(data).digest("hex"));
      assert.equal(hashed, data.length);
    } finally {
      worker.close();
    }
  });

  test("blake3 in the worker is b3sum's digest", { skip: !blake3Available() }, async () => {
    const data = bytes(300_000, 9);
    const worker = new HashWorker(["blake3"]);
    try {
      for (const chunk of sharedChunks(data, 64 * 1024, [20_000, 65_536, 1]))
        worker.lend(chunk, () => {});
      const expected = newBlake3();
      expected.update(data);
      assert.equal((await worker.finish()).get("blake3"), expected.digest("hex"));
    } finally {
      worker.close();
    }
  });

  test("close releases every range still lent, and finish then rejects", async () => {
    const worker = new HashWorker(["sha256"]);
    const shared = new Uint8Array(new SharedArrayBuffer(1 << 20));
    let released = 0;
    for (let i = 0; i < 64; i += 1)
      worker.lend(shared.subarray(i * 16384, (i + 1) * 16384), () => {
        released += 1;
      });
    worker.close();
    assert.equal(released, 64, "nothing stays lent");
    await assert.rejects(worker.finish());
    worker.close(); // idempotent
  });

  test("a worker that dies fails its transfer: onFailure, finish rejects, the lent bytes come back", async () => {
    const previous = process.env.RESILIENT_SYNC_FAILPOINT;
    process.env.RESILIENT_SYNC_FAILPOINT = "hash-worker-crash";
    let worker: HashWorker;
    try {
      worker = new HashWorker(["sha256"]);
    } finally {
      if (previous === undefined) delete process.env.RESILIENT_SYNC_FAILPOINT;
      else process.env.RESILIENT_SYNC_FAILPOINT = previous;
    }
    const failed = new Promise((resolve) => {
      worker.onFailure = resolve;
    });
    const shared = new Uint8Array(new SharedArrayBuffer(4 << 20));
    let released = 0;
    for (let at = 0; at < shared.length; at += 64 * 1024)
      worker.lend(shared.subarray(at, at + 64 * 1024), () => {
        released += 1;
      });
    const error = (await failed) as Error;
    assert.match(error.message, /hash worker failed/);
    await assert.rejects(worker.finish(), /hash worker failed/);
    assert.equal(released, 64);
  });

  test("a worker never closed does not keep the process alive", () => {
    const module = fileURLToPath(new URL("../../src/checksums/hash-worker.js", import.meta.url));
    const script = `import { HashWorker } from ${JSON.stringify(module)};
      const w = new HashWorker(["sha256"]);
      w.lend(new Uint8Array(new SharedArrayBuffer(16)), () => {});`;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      timeout: 20_000,
      encoding: "utf8",
    });
    assert.equal(child.signal, null, "it exited by itself");
    assert.equal(child.status, 0, child.stderr);
  });
});
