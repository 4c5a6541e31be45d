import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backoffDelayMs, parseRetryAfter, RETRY_AFTER_CAP_MS } from "../../src/policies/backoff.js";

describe("backoff", () => {
  test("doubles from 1 s and caps at 16 s without jitter", () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 10].map((attempt) => backoffDelayMs(attempt, () => 0)),
      [1000, 2000, 4000, 8000, 16_000, 16_000, 16_000],
    );
  });

  test("adds up to 25 % jitter", () => {
    assert.equal(
      backoffDelayMs(3, () => 0.999_999),
      5000,
    );
    assert.equal(
      backoffDelayMs(1, () => 0.5),
      1125,
    );
  });
});

describe("Retry-After", () => {
  const now = Date.parse("2026-11-29T10:00:00Z");
  test("delta-seconds", () => assert.equal(parseRetryAfter("12", now), 12_000));
  test("an HTTP date", () =>
    assert.equal(parseRetryAfter("Sun, 29 Nov 2026 10:00:30 GMT", now), 30_000));
  test("a date in the past is zero", () =>
    assert.equal(parseRetryAfter("Sun, 29 Nov 2026 09:00:00 GMT", now), 0));
  test("capped", () => assert.equal(parseRetryAfter("999999", now), RETRY_AFTER_CAP_MS));
  test("garbage is ignored", () => {
    assert.equal(parseRetryAfter("soon", now), undefined);
    assert.equal(parseRetryAfter("-5", now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });
});
