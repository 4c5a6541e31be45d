/** The per-file path helpers give what `node:path` gives, for any path. */
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import fc from "fast-check";
import { childPath, fileUrlOf, pathOfFileUrl, resolvedPath } from "../../src/fs/paths.js";

const outcome = (read: () => string) => {
  try {
    return { path: read() };
  } catch (error) {
    return { refused: (error as Error).message };
  }
};

const RUNS = Number(process.env.PROPERTY_RUNS ?? 300) * 10;

/** Paths made of the pieces that matter to normalisation. */
const path = fc
  .array(
    fc.constantFrom(
      "/",
      ".",
      "..",
      "a",
      "b.c",
      ".d",
      "..e",
      "f..",
      " ",
      "é",
      "%",
      "#",
      "?",
      "~",
      "%2F",
    ),
    {
      maxLength: 12,
    },
  )
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

  test("property: fileUrlOf(p) is pathToFileURL(p).href, and pathOfFileUrl reads it back as fileURLToPath does", () => {
    fc.assert(
      fc.property(path, (p) => {
        const url = pathToFileURL(p).href;
        assert.equal(fileUrlOf(p), url);
        assert.equal(pathOfFileUrl(url), fileURLToPath(url));
        // Not made by pathToFileURL: `%`, `#` and `?` as they are (read, or refused, alike).
        const raw = `file://${resolve(p)}`;
        assert.deepEqual(
          outcome(() => pathOfFileUrl(raw)),
          outcome(() => fileURLToPath(raw)),
        );
      }),
      { numRuns: RUNS },
    );
  });
});
