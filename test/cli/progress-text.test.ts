/** The words of a progress line: what a person reads at a glance must be right. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { progressText, RateMeter } from "../../src/cli/progress-text.js";

const MiB = 1024 * 1024;

test("bytes of bytes, percentage, rate and an ETA from the rate", () => {
  assert.equal(
    progressText(3 * MiB, 6 * MiB, 2 * MiB),
    "3.0 MiB / 6.0 MiB · 50% · 2.0 MiB/s · ETA 1.5 s",
  );
  assert.equal(
    progressText(3 * MiB, undefined, 2 * MiB),
    "3.0 MiB · 2.0 MiB/s",
    "no size: no % or ETA",
  );
  assert.equal(progressText(0, 6 * MiB, 0), "0 B / 6.0 MiB · 0% · 0 B/s", "no rate yet: no ETA");
  assert.equal(progressText(6 * MiB, 6 * MiB, 2 * MiB), "6.0 MiB / 6.0 MiB · 100% · 2.0 MiB/s");
});

test("the rate follows the last seconds, not the whole run", () => {
  const meter = new RateMeter(5000);
  for (let second = 0; second <= 10; second += 1)
    meter.add(second * 1000, second < 5 ? 10 * MiB : MiB);
  // The last 5 s moved 1 MiB a second: the fast start is forgotten.
  assert.ok(Math.abs(meter.perSecond(10_000) - MiB) < 0.01 * MiB, String(meter.perSecond(10_000)));
  assert.equal(new RateMeter().perSecond(0), 0);
});
