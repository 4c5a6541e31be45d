/** The per-file path helpers give what `node:path` gives, for any path. */
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import { childPath, resolvedPath } from "../../src/fs/paths.js";

const RUNS = Number(process.env.PROPERTY_RUNS ?? 300) * 10;

/** Paths made of the pieces that matter to normalisation. */
const path = fc
  .array(fc.constantFrom("/", ".", "..", "a", "b.c", ".d", "..e", "f..", " ", "é"), {
    maxLength: 12,
  })
  .map((parts) => parts.join(""));

describe("path helpers", () => {
  test("property: resolvedPath(p) is path.resolve(p)", () => {
    fc.assert(
      fc.property(path, (p) => {
        assert.equal(resolvedPath(p), resolve(p));
      }),
      { numRuns: RUNS },
    );
  });

  test("property: childPath(folder, name) is path.join for a normal folder and a plain name", () => {
    const name = fc
      .array(fc.constantFrom("a", "b", ".", "-", "é", " "), { minLength: 1, maxLength: 6 })
      .map((parts) => parts.join(""))
      .filter((n) => n !== "." && n !== "..");
    fc.assert(
      fc.property(path, name, (p, n) => {
        const folder = resolve(p);
        assert.equal(childPath(folder, n), join(folder, n));
      }),
      { numRuns: RUNS },
    );
  });
});
