/**
 * `--checksum-algorithm blake3`: the digest is BLAKE3's (checked against the reference test vectors
 * and against a hash computed here over a real transfer), a stated `blake3:HEX` is verified, and
 * the wrong digest fails the transfer without touching the destination.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { newBlake3 } from "../../src/checksums/blake3.js";
import { newHash } from "../../src/checksums/digest.js";
import { runCli, singlePair } from "../helpers/cli.js";
import { bytes, useTestServer } from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

const server = useTestServer();

/** BLAKE3 of the empty input and of "abc", from the reference implementation's test vectors. */
const VECTORS = [
  ["", "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"],
  ["abc", "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"],
] as const;

describe("blake3", () => {
  test("the digest is BLAKE3's: reference vectors, fed whole or byte by byte", () => {
    for (const [input, hex] of VECTORS) {
      const whole = newHash("blake3");
      whole.update(Buffer.from(input));
      assert.equal(whole.digest("hex"), hex);
      const pieces = newHash("blake3");
      for (const byte of Buffer.from(input)) pieces.update(Buffer.from([byte]));
      assert.equal(pieces.digest("hex"), hex);
    }
  });

  test("a transfer with --checksum-algorithm blake3 reports the file's BLAKE3; a stated one is checked", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(3 * 1024 * 1024 + 17, 901);
    server.route("/b3.bin", { body });
    const expected = newBlake3();
    expected.update(body);
    const hex = expected.digest("hex");

    const args = singlePair(server.url("/b3.bin"), dir, "out/b3.bin", "--json");
    const wrong = await runCli([...args, "--checksum", `blake3:${"0".repeat(64)}`]);
    assert.notEqual(wrong.code, 0);
    assert.deepEqual(await listFiles(join(dir, "out")).catch(() => []), []);

    const run = await runCli([
      ...args,
      "--checksum-algorithm",
      "blake3",
      "--checksum",
      `blake3:${hex}`,
    ]);
    assert.equal(run.code, 0, run.stderr.slice(0, 2000));
    const result = JSON.parse(run.stdout).results[0];
    assert.equal(result.algorithm, "blake3");
    assert.equal(result.checksum, hex);
    assert.deepEqual(await readFile(join(dir, "out", "b3.bin")), body);
  });
});
