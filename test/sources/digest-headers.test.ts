import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { parseDigestDictionary, statedDigests } from "../../src/sources/http/headers.js";

const sha256 = (text: string) => createHash("sha256").update(text).digest();
const b64 = (buffer: Buffer) => buffer.toString("base64");

describe("RFC 9530 digest fields", () => {
  test("several members, parameters, odd spacing", () => {
    const a = sha256("a");
    const b = createHash("sha512").update("b").digest();
    const parsed = parseDigestDictionary(
      `sha-256=:${b64(a)}:;note=1,  sha-512 = :${b64(b)}:, unixsum=:AAA=:`,
    );
    assert.deepEqual(
      parsed.map(([key, bytes]) => [key, bytes.toString("hex")]),
      [
        ["sha-256", a.toString("hex")],
        ["sha-512", b.toString("hex")],
        ["unixsum", "0000"],
      ],
    );
  });

  test("repeated header lines are one dictionary: every member is checked", () => {
    const stated = statedDigests(
      {
        "repr-digest": [
          `sha-512=:${b64(createHash("sha512").update("x").digest())}:`,
          `sha-256=:${b64(sha256("y"))}:`,
        ],
      },
      true,
    );
    assert.deepEqual(
      stated.map((d) => d.algorithm),
      ["sha512", "sha256"],
    );
  });

  test("Content-Digest and Content-MD5 describe a 206 body only, so they are not used for the whole file", () => {
    const headers = {
      "content-digest": `sha-256=:${b64(sha256("part"))}:`,
      "content-md5": "1B2M2Y8AsgTpgAmY7PhCfg==",
      "repr-digest": `sha-256=:${b64(sha256("whole"))}:`,
    };
    assert.deepEqual(
      statedDigests(headers, false).map((d) => d.header),
      ["repr-digest"],
    );
    assert.deepEqual(
      statedDigests(headers, true).map((d) => d.header),
      ["repr-digest", "content-digest", "content-md5"],
    );
  });

  test("malformed members are skipped, unknown algorithms ignored", () => {
    assert.deepEqual(
      statedDigests({ "repr-digest": "sha-256=notbytes, crc32c=:AAAAAA==:" }, true),
      [],
    );
  });
});
