/** One transfer's retry budget, on a fake clock: outages waited out by time, with short waits. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RetryBudget } from "../../src/core/retry-budget.js";
import { SyncError } from "../../src/errors.js";
import { OriginGate } from "../../src/health/origin-gate.js";
import { OUTAGE_BACKOFF_CAP_MS } from "../../src/policies/backoff.js";

const O = "http://a.example:80";
const unreachable = () =>
  new SyncError("network", "a: EHOSTUNREACH", { retryable: true, unreachable: true });

function budgetAt(options: { maxAttempts?: number; resumable?: boolean } = {}) {
  const clock = { now: 1000 };
  const gate = new OriginGate();
  const budget = new RetryBudget({
    origin: O,
    gate,
    now: () => clock.now,
    random: () => 0.999_999,
    maxAttempts: options.maxAttempts ?? 5,
    retryMaxTimeMs: 300_000,
    resumable: () => options.resumable ?? true,
    delayScale: 1,
  });
  return { clock, gate, budget };
}

describe("retry budget", () => {
  test("an origin never heard from in this run: failures to reach it count", () => {
    const { budget } = budgetAt();
    budget.begin(1);
    assert.equal(budget.charge(unreachable()), "counted");
  });

  test("an origin heard from in this run that cannot be reached: an outage, bounded by time", () => {
    const { budget, clock } = budgetAt();
    budget.begin(1);
    budget.answered();
    budget.received(64 * 1024);
    assert.equal(budget.charge(unreachable()), "free", "the first failure made progress");
    for (let attempt = 2; attempt < 40; attempt += 1) {
      budget.begin(attempt);
      assert.equal(budget.charge(unreachable()), "timed");
      const wait = budget.delayMs(attempt, unreachable());
      assert.ok(wait <= OUTAGE_BACKOFF_CAP_MS * 1.25, `short waits: ${wait}`);
      clock.now += wait;
      assert.equal(budget.mayRetry(), true);
    }
    clock.now += 300_000;
    assert.equal(budget.mayRetry(), false, "silent past --retry-max-time");
    assert.match(budget.failure(unreachable()).message, /gave up after 300 s without an answer/);
  });

  test("--max-retries 1 is one attempt even when told to slow down (a 429 was a free attempt, up to 100)", () => {
    const throttled = new SyncError("http_error", "HTTP 429", {
      status: 429,
      retryable: true,
      throttled: true,
    });
    const once = budgetAt({ maxAttempts: 1 }).budget;
    once.begin(1);
    assert.equal(once.charge(throttled), "counted");
    const several = budgetAt({ maxAttempts: 3 }).budget;
    several.begin(1);
    assert.equal(several.charge(throttled), "free", "with retries allowed, a 429 does not use one");
  });

  test("another transfer's answer makes a failure to reach the origin an outage too", () => {
    const { budget, gate, clock } = budgetAt();
    gate.heard(O, clock.now);
    budget.begin(1);
    assert.equal(budget.charge(unreachable()), "timed");
  });

  test("an HTTP answer is not an outage, and --max-retries 1 stays one attempt", () => {
    const { budget, gate, clock } = budgetAt();
    gate.heard(O, clock.now);
    budget.begin(1);
    const answer = new SyncError("http_error", "a: HTTP 500", { retryable: true, status: 500 });
    assert.equal(budget.charge(answer), "counted");
    const cut = new SyncError("network", "a: UND_ERR_SOCKET", { retryable: true });
    assert.equal(budget.charge(cut), "counted", "a connection it cut is not a way that is down");
    const gateway = new SyncError("http_error", "a: HTTP 504", {
      retryable: true,
      status: 504,
      unreachable: true,
    });
    assert.equal(budget.charge(gateway), "timed", "a gateway that cannot reach the origin");
    const one = budgetAt({ maxAttempts: 1 });
    one.gate.heard(O, 0);
    one.budget.begin(1);
    assert.equal(one.budget.charge(unreachable()), "counted");
  });

  test("bytes keep the time budget alive: a slow transfer is never cut by it", () => {
    const { budget, clock } = budgetAt();
    budget.begin(1);
    for (let second = 0; second < 1000; second += 1) {
      clock.now += 1000;
      budget.received(10);
    }
    assert.equal(budget.mayRetry(), true);
  });

  test("a few bytes and a cut is not progress: a server that dribbles a byte per request is counted", () => {
    const { budget } = budgetAt();
    budget.begin(1);
    budget.answered();
    budget.received(64 * 1024 - 1);
    assert.equal(budget.charge(new SyncError("network", "cut", { retryable: true })), "counted");
    budget.begin(2);
    budget.received(64 * 1024);
    assert.equal(budget.charge(new SyncError("network", "cut", { retryable: true })), "free");
  });
});
