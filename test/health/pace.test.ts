/** The pace an origin asks for with "slow down" (429), kept by every worker of a run: pure, on numbers. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { OriginGate } from "../../src/health/origin-gate.js";

const O = "http://a.example:80";

describe("origin pace", () => {
  test("without a slow-down every request may start at once", () => {
    const gate = new OriginGate();
    assert.deepEqual(
      [0, 0, 0].map(() => gate.reserveStart(O, 1000)),
      [0, 0, 0],
    );
  });

  test("a slow-down spaces the starts of all requests; a burst of them slows the pace once", () => {
    const gate = new OriginGate();
    for (let worker = 0; worker < 4; worker += 1) gate.throttle(O, 1000, undefined);
    // One doubling from nothing: 250 ms apart, the first after 250 ms.
    assert.deepEqual(
      [0, 0, 0].map(() => gate.reserveStart(O, 1000)),
      [250, 500, 750],
    );
    // A later slow-down doubles it.
    gate.throttle(O, 2000, undefined);
    const first = gate.reserveStart(O, 2000);
    assert.equal(gate.reserveStart(O, 2000) - first, 500);
  });

  test("Retry-After holds every start back; accepted requests quicken the pace back to none", () => {
    const gate = new OriginGate();
    gate.throttle(O, 0, 7000);
    assert.equal(gate.reserveStart(O, 0), 7000);
    for (let i = 0; i < 200; i += 1) gate.accepted(O);
    assert.equal(gate.reserveStart(O, 100_000), 0, "back to no limit");
    assert.equal(gate.reserveStart("http://other:80", 0), 0, "other origins never slowed");
  });
});
