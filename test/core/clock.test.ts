/**
 * The system clock's timers with delays past what Node's timers take (2^31 - 1 ms): Node fires
 * those at once, so a very low `--limit-rate` waited for nothing.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { MAX_TIMER_MS, systemClock } from "../../src/clock.js";

describe("system clock", () => {
  test("a sleep longer than Node's longest timer is still pending after a real wait, and aborts", async () => {
    const stop = new AbortController();
    let settled = "pending";
    const sleeping = systemClock.sleep(MAX_TIMER_MS * 2 + 5, stop.signal).then(
      () => {
        settled = "resolved";
      },
      () => {
        settled = "aborted";
      },
    );
    // An overflowed timer fires after 1 ms; 50 ms of a real timer is far past it.
    await delay(50);
    assert.equal(settled, "pending");
    stop.abort(new Error("stop"));
    await sleeping;
    assert.equal(settled, "aborted");
  });

  test("after() longer than Node's longest timer does not fire early; a short one fires", async () => {
    let late = false;
    let short = false;
    const cancel = systemClock.after(MAX_TIMER_MS + 1000, () => {
      late = true;
    });
    systemClock.after(10, () => {
      short = true;
    });
    await delay(60); // a timer that holds the process open (the clock's do not)
    assert.equal(short, true);
    assert.equal(late, false);
    cancel();
  });
});
