/** The retry loop's budget: counted, free and timed attempts, and the time budget. Pure: no clock. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Charge, type RetryOptions, withRetry } from "../../src/policies/retry.js";

/** Runs a loop whose every attempt fails, charged by `charges` in turn; returns its attempts. */
async function failing(
  charges: Charge[],
  options: Partial<RetryOptions> = {},
): Promise<{ attempts: number; exhausted: boolean }> {
  let index = 0;
  const outcome = await withRetry(
    async () => {
      throw new Error("down");
    },
    {
      maxAttempts: 3,
      isRetryable: () => true,
      delayMs: () => 0,
      sleep: async () => {},
      charge: () => charges[Math.min(index++, charges.length - 1)] ?? "counted",
      ...options,
    },
  );
  assert.equal(outcome.ok, false);
  return { attempts: outcome.attempts, exhausted: !outcome.ok && outcome.exhausted };
}

describe("withRetry's budget", () => {
  test("counted attempts stop at maxAttempts", async () => {
    assert.deepEqual(await failing(["counted"]), { attempts: 3, exhausted: true });
  });

  test("free attempts do not count, up to maxFreeAttempts; past that they count again", async () => {
    const twoFree: Charge[] = ["free", "free", "counted"];
    assert.equal((await failing(twoFree, { maxFreeAttempts: 5 })).attempts, 5);
    assert.equal((await failing(["free"], { maxFreeAttempts: 4 })).attempts, 5);
  });

  test("timed attempts are bounded by mayRetry, not by maxAttempts", async () => {
    let asked = 0;
    const result = await failing(["timed"], { mayRetry: () => ++asked < 20 });
    assert.deepEqual(result, { attempts: 20, exhausted: true });
  });

  test("timed attempts are bounded by maxTimedAttempts when the time budget never ends", async () => {
    const result = await failing(["timed"], { mayRetry: () => true, maxTimedAttempts: 50 });
    // The 51st makes them all count again: far past maxAttempts, so the loop ends there.
    assert.equal(result.attempts, 51);
  });

  test("mayRetry ends even counted attempts (a time budget, as curl's --retry-max-time)", async () => {
    assert.equal(
      (await failing(["counted"], { maxAttempts: 10, mayRetry: () => false })).attempts,
      1,
    );
  });

  test("a non-retryable failure ends the loop at once, not exhausted", async () => {
    assert.deepEqual(await failing(["timed"], { isRetryable: () => false }), {
      attempts: 1,
      exhausted: false,
    });
  });
});
