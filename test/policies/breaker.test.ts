import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  admit,
  CLOSED,
  circuitFromJSON,
  recordFailure,
  recordSuccess,
} from "../../src/policies/breaker.js";

describe("breaker state machine", () => {
  test("opens after `threshold` consecutive failures", () => {
    const once = recordFailure(CLOSED, 1000, 2, 5000);
    assert.equal(once.opened, false);
    const twice = recordFailure(once.next, 2000, 2, 5000);
    assert.equal(twice.opened, true);
    assert.deepEqual(twice.next, { state: "open", failures: 2, openedAt: 2000, openUntil: 7000 });
  });

  test("rejects while open, with the time until retry", () => {
    const open = recordFailure(CLOSED, 0, 1, 5000).next;
    const admission = admit(open, 1000, 5000);
    assert.equal(admission.decision, "reject");
    assert.equal(admission.decision === "reject" && admission.retryInMs, 4000);
  });

  test("after the TTL admits exactly one probe", () => {
    const open = recordFailure(CLOSED, 0, 1, 5000).next;
    const first = admit(open, 5000, 5000);
    assert.equal(first.decision, "probe");
    const second = admit(first.next, 5001, 5000);
    assert.equal(second.decision, "reject");
  });

  test("a failed probe re-opens at once; a successful one closes and resets", () => {
    const probing = admit(recordFailure(CLOSED, 0, 3, 100).next, 0, 100).next;
    assert.equal(probing.state, "closed", "one failure of three leaves it closed");
    const halfOpen = admit(
      { state: "open", failures: 3, openedAt: 0, openUntil: 100 },
      200,
      100,
    ).next;
    assert.equal(halfOpen.state, "half_open");
    assert.equal(recordFailure(halfOpen, 300, 3, 100).next.state, "open");
    const closed = recordSuccess(halfOpen);
    assert.deepEqual(closed, { next: CLOSED, reset: true });
    assert.equal(recordSuccess(CLOSED).reset, false);
  });

  test("a success between failures resets the count", () => {
    const one = recordFailure(CLOSED, 0, 2, 100).next;
    const reset = recordSuccess(one).next;
    assert.equal(recordFailure(reset, 0, 2, 100).opened, false);
  });

  test("circuitFromJSON refuses damaged state", () => {
    assert.equal(circuitFromJSON(null), undefined);
    assert.equal(circuitFromJSON({ state: "open", failures: 1 }), undefined);
    assert.equal(circuitFromJSON({ state: "weird", failures: 0 }), undefined);
    assert.equal(circuitFromJSON({ state: "closed", failures: -1 }), undefined);
    assert.deepEqual(circuitFromJSON({ state: "closed", failures: 2 }), {
      state: "closed",
      failures: 2,
    });
  });

  test("a wall clock that jumps back keeps the circuit open one TTL at most, not the size of the jump", () => {
    const open = recordFailure(CLOSED, 1_000_000, 1, 5000).next;
    const hourEarlier = 1_000_000 - 3_600_000;
    const admission = admit(open, hourEarlier, 5000);
    assert.equal(admission.decision, "reject");
    assert.equal(admission.decision === "reject" && admission.retryInMs, 5000);
    assert.equal(admit(admission.next, hourEarlier + 5000, 5000).decision, "probe");
  });

  test("a probe window is clamped the same way", () => {
    const halfOpen = admit(
      { state: "open", failures: 1, openedAt: 0, openUntil: 10 },
      5_000_000,
      2000,
    ).next;
    const back = admit(halfOpen, 0, 2000);
    assert.equal(back.decision === "reject" && back.retryInMs, 2000);
    assert.equal(admit(back.next, 2000, 2000).decision, "probe");
  });
});
