/** Where a segmented download's cuts fall, and which recorded segments a resume may trust. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { MIN_SEGMENT_BYTES, planSegments, segmentsCover } from "../../src/core/segments.js";
import type { SegmentRecord } from "../../src/state/store.js";

const MiB = 1024 * 1024;

describe("segments", () => {
  test("below two minimum segments (16 MiB) a file is not split; from there, at most N segments", () => {
    assert.equal(planSegments(2 * MIN_SEGMENT_BYTES - 1, 8), undefined);
    assert.equal(planSegments(256 * MiB, 1), undefined);
    assert.equal(planSegments(2 * MIN_SEGMENT_BYTES, 8)?.length, 2);
    assert.equal(planSegments(64 * MiB, 8)?.length, 8);
    assert.equal(planSegments(256 * MiB, 8)?.length, 8);
    assert.equal(planSegments(40 * MiB, 16)?.length, 5, "none under 8 MiB");
  });

  test("the plan covers the file exactly, on 64 KiB boundaries, nothing done yet", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 * 1024 * MiB }),
        fc.integer({ min: 1, max: 16 }),
        (total, connections) => {
          const plan = planSegments(total, connections);
          if (!plan) return;
          assert.ok(plan.length >= 2 && plan.length <= connections);
          assert.ok(segmentsCover(plan, total));
          assert.ok(plan.every((s) => s.done === s.start));
          assert.ok(plan.slice(1).every((s) => s.start % (64 * 1024) === 0));
          assert.ok(plan.every((s) => s.end - s.start >= MIN_SEGMENT_BYTES / 2));
        },
      ),
    );
  });

  test("a record's segments are trusted only if they cover the part with start ≤ done ≤ end", () => {
    const good: SegmentRecord[] = [
      { start: 0, end: 10, done: 4 },
      { start: 10, end: 20, done: 20 },
    ];
    assert.ok(segmentsCover(good, 20));
    for (const bad of [
      [],
      [{ start: 0, end: 10, done: 11 }],
      [{ start: 0, end: 10, done: -1 }],
      [
        { start: 0, end: 10, done: 0 },
        { start: 12, end: 20, done: 12 },
      ],
      [
        { start: 0, end: 12, done: 0 },
        { start: 10, end: 20, done: 10 },
      ],
      [{ start: 0, end: 10, done: 0.5 }],
      "segments",
      { length: 1 },
      [null],
    ]) {
      assert.equal(segmentsCover(bad as SegmentRecord[], 10), false, JSON.stringify(bad));
    }
    assert.equal(segmentsCover(good, 21), false, "not the part's size");
  });
});
