/**
 * `OpenFile` and the `PartWriter` on top of it, on real files: the small last batch that is
 * written at once (not through the thread pool) lands at the right offset, after every earlier
 * batch, and a large one still goes the usual way — the file's bytes are compared whole.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { PartWriter } from "../../src/destinations/local/part-writer.js";
import { CREATE_NEW_RW, OPEN_EXISTING_RW } from "../../src/fs/no-follow.js";
import { OpenFile } from "../../src/fs/open-file.js";
import { tempDir } from "../helpers/tmp.js";

/** Pushes `sizes` random chunks through a writer on `file` from `offset`, finishes, returns them joined. */
async function writeThrough(file: OpenFile, offset: number, sizes: number[], batchBytes: number) {
  const writer = new PartWriter(file, offset, { batchBytes });
  const chunks = sizes.map((size) => randomBytes(size));
  for (const chunk of chunks) await writer.push(chunk);
  await writer.finish();
  return Buffer.concat(chunks);
}

describe("OpenFile with a PartWriter", () => {
  test("a small file (one batch, written at once) has exactly the bytes pushed", async (t) => {
    const path = join(await tempDir(t), "small");
    const file = await OpenFile.open(path, CREATE_NEW_RW, 0o600);
    const expected = await writeThrough(file, 0, [1000, 15_000, 384], 1 << 20);
    file.close();
    assert.deepEqual(await readFile(path), expected);
  });

  test("the last small batch follows earlier batches written through the pool", async (t) => {
    const path = join(await tempDir(t), "batches");
    const file = await OpenFile.open(path, CREATE_NEW_RW, 0o600);
    // 10 KiB batches: several go to the pool, the 3 KiB tail is written at once.
    const expected = await writeThrough(
      file,
      0,
      [4096, 4096, 4096, 4096, 4096, 4096, 3000],
      10_240,
    );
    file.close();
    assert.deepEqual(await readFile(path), expected);
  });

  test("a resumed part continues at its offset, whether the tail is small or large", async (t) => {
    const dir = await tempDir(t);
    for (const tail of [5000, 600 * 1024]) {
      const path = join(dir, `resumed-${tail}`);
      const kept = randomBytes(7777);
      await writeFile(path, kept);
      const file = await OpenFile.open(path, OPEN_EXISTING_RW);
      const added = await writeThrough(file, kept.length, [tail], 1 << 20);
      file.close();
      assert.deepEqual(await readFile(path), Buffer.concat([kept, added]), `tail of ${tail} bytes`);
    }
  });

  test("close may be called twice; stat, chmod and the fd work until then", async (t) => {
    const path = join(await tempDir(t), "closing");
    const file = await OpenFile.open(path, CREATE_NEW_RW, 0o600);
    file.chmod(0o640);
    assert.equal(file.stat().mode & 0o777, 0o640);
    assert.equal(file.closed, false);
    file.close();
    file.close();
    assert.equal(file.closed, true);
  });
});
