/** The eager body: every chunk the source gave is delivered, in order, before its end or error. */
import assert from "node:assert/strict";
import { once } from "node:events";
import { PassThrough } from "node:stream";
import { describe, test } from "node:test";
import fc from "fast-check";
import { EAGER_BYTES, eagerBody } from "../../src/sources/http/eager-body.js";

/** Reads `body` to its end or error, pausing now and then as a slow writer would. */
async function readAll(body: NodeJS.ReadableStream & { pause(): void; resume(): void }) {
  const chunks: Buffer[] = [];
  let error: unknown;
  await new Promise<void>((resolve) => {
    body.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      if (chunks.length % 3 === 0) {
        body.pause();
        setImmediate(() => body.resume());
      }
    });
    body.on("end", () => resolve());
    body.on("error", (e) => {
      error = e;
      resolve();
    });
  });
  return { data: Buffer.concat(chunks), error };
}

describe("eager body", () => {
  test("property: all bytes in order, then the end or the source's own error", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 5000 }), { maxLength: 40 }),
        fc.boolean(),
        fc.nat(30),
        async (chunks, fails, readAfter) => {
          const source = new PassThrough();
          const body = eagerBody(source);
          for (const chunk of chunks) source.write(chunk);
          const cut = new Error("cut");
          // The reader may attach after the source has already finished or failed.
          if (readAfter % 2 === 0) {
            if (fails) source.destroy(cut);
            else source.end();
          } else {
            setImmediate(() => (fails ? source.destroy(cut) : source.end()));
          }
          const { data, error } = await readAll(body);
          assert.deepEqual(data, Buffer.concat(chunks));
          assert.equal(error, fails ? cut : undefined);
        },
      ),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 200) },
    );
  });

  test("takes chunks off the source at once, up to EAGER_BYTES unread; then pauses it", async () => {
    const source = new PassThrough({ highWaterMark: 16 * 1024 });
    const body = eagerBody(source);
    body.pause();
    const block = Buffer.alloc(64 * 1024);
    let written = 0;
    while (source.write(block) && written < 4 * EAGER_BYTES) written += block.length;
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(body.readableLength >= EAGER_BYTES - block.length, `${body.readableLength} held`);
    assert.ok(body.readableLength <= EAGER_BYTES + block.length, "bounded");
    assert.equal(source.isPaused(), true);
    body.destroy();
    await once(body, "close");
    assert.equal(source.destroyed, true, "destroying it destroys the source");
  });
});
