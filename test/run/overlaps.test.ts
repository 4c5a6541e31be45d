/**
 * The plan's overlap check against the plain algorithm it replaced (an object per pair, a set of
 * every destination, a walk up from every file), on random plans where collisions and nesting
 * are common; and a directory file's destination against `path.resolve`.
 */
import assert from "node:assert/strict";
import { dirname, join, resolve } from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import { SyncError, UsageError } from "../../src/errors.js";
import { refuseOverlaps } from "../../src/run/overlaps.js";
import { DirectoryFilePair, NamedPair, type PlannedPair, pairOf } from "../../src/run/pairs.js";

/** The check as it was first written: the oracle. */
function plainRefuseOverlaps(pairs: PlannedPair[]): void {
  const valid: Array<{ destination: string; pair: PlannedPair }> = [];
  for (const pair of pairs) if (!pair.invalid) valid.push({ destination: pair.destination, pair });
  valid.sort((a, b) => (a.destination < b.destination ? -1 : 1));
  for (let i = 1; i < valid.length; i += 1) {
    const before = valid[i - 1] as (typeof valid)[number];
    const entry = valid[i] as (typeof valid)[number];
    if (entry.destination === before.destination) {
      throw new UsageError(
        "SOURCE",
        `two sources map to one destination ${entry.destination}: ${before.pair.source.display} and ${entry.pair.source.display}`,
      );
    }
  }
  const files = new Set(valid.map((entry) => entry.destination));
  for (const { destination, pair } of valid) {
    for (let dir = dirname(resolve(destination)); dir !== dirname(dir); dir = dirname(dir)) {
      if (files.has(dir)) {
        const other = valid.find((entry) => entry.destination === dir) as (typeof valid)[number];
        throw new UsageError(
          "SOURCE",
          `${destination} (from ${pair.source.display}) would lie inside the file ${dir} (from ${other.pair.source.display})`,
        );
      }
    }
  }
}

const outcome = (check: (pairs: PlannedPair[]) => void, pairs: PlannedPair[]) => {
  try {
    check(pairs);
    return "accepted";
  } catch (error) {
    assert.ok(error instanceof UsageError);
    return error.message;
  }
};

const pairTo = (destination: string, index: number): PlannedPair =>
  pairOf(
    {
      raw: `/src/${index}`,
      kind: "file",
      href: `/src/${index}`,
      display: `/src/${index}`,
      origin: `file:///src/${index}`,
    },
    destination,
    String(index),
  );

/** Absolute paths from a tiny alphabet, so that equal and nested paths are common. */
const path = fc
  .array(fc.constantFrom("a", "b", "a-b", "a.b", "c"), { minLength: 1, maxLength: 4 })
  .map((segments) => `/${segments.join("/")}`);

describe("refuseOverlaps", () => {
  test("refuses exactly what the plain check refused, with the same message", () => {
    fc.assert(
      fc.property(fc.array(path, { maxLength: 12 }), fc.array(fc.boolean()), (paths, invalid) => {
        const pairs = paths.map((destination, index) => {
          const pair = pairTo(destination, index);
          if (invalid[index]) pair.invalid = new SyncError("invalid_source", "refused up front");
          return pair;
        });
        assert.equal(outcome(refuseOverlaps, pairs), outcome(plainRefuseOverlaps, pairs));
      }),
      { numRuns: 2000 },
    );
  });

  test("a file where another pair needs a folder is named, both ways round", () => {
    const pairs = [pairTo("/out/a/b", 0), pairTo("/out/a", 1)];
    assert.throws(
      () => refuseOverlaps(pairs),
      /\/out\/a\/b \(from \/src\/0\) would lie inside the file \/out\/a \(from \/src\/1\)/,
    );
    assert.doesNotThrow(() => refuseOverlaps([pairTo("/out/a-b", 0), pairTo("/out/a/b", 1)]));
  });
});

describe("a directory file's destination", () => {
  test("is what path.resolve(root, name) makes, for any root and a listed name", () => {
    const segment = fc.stringMatching(/^[a-z0-9._-]{1,6}$/).filter((s) => s !== "." && s !== "..");
    fc.assert(
      fc.property(
        fc.constantFrom("/", "/out", "/out/", "out", "out/sub/", "./out", "/a/../out"),
        fc.array(segment, { minLength: 1, maxLength: 4 }),
        (root, segments) => {
          const name = segments.join("/");
          const group = {
            location: pairTo("/x", 0).source,
            root,
            destinationWithin: root,
            within: undefined,
          };
          assert.equal(new DirectoryFilePair(group, name).destination, resolve(root, name));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("a named pair's destination (an input list's URL or file)", () => {
  test("is what path.join(root, name) made before, for any resolved root and any one-segment name", () => {
    // The names a URL or a file may land under: one segment, any characters but `/` and NUL,
    // never empty, `.` or `..` (nameFromUrlPath and basename refuse or never make those).
    const name = fc
      .string({ minLength: 1, maxLength: 8, unit: "binary" })
      .filter((s) => !s.includes("/") && !s.includes("\0") && s !== "." && s !== "..");
    fc.assert(
      fc.property(fc.constantFrom("/", "/out", "/a b/out", "/tmp/x.y"), name, (root, name) => {
        const pair = new NamedPair({ root }, pairTo("/x", 0).source, name);
        assert.equal(pair.destination, join(root, name));
        assert.equal(pair.destinationWithin, root);
        assert.equal(pair.name, name);
      }),
      { numRuns: 1000 },
    );
  });
});
