/**
 * Option normalising for a fleet worker (`sourcesFrom: "queue"`): its pairs come from the queue,
 * so it needs no source — not even an installed copy, which has no bundled sample to fall back on.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { UsageError } from "../../src/errors.js";
import { queuePrefixOf } from "../../src/fleet/queue.js";
import { normalizeOptions } from "../../src/options/normalize.js";

/** An installed copy's environment: no checkout to find the sample in. */
const INSTALLED = { RESILIENT_SYNC_INSTALLED: "1", HOME: "/nonexistent-home" };

describe("normalizeOptions for a worker", () => {
  test("an installed copy with no source: refused for a sync, accepted for a worker", (t) => {
    // Whether this copy counts as installed is read from the process's own environment.
    const before = process.env.RESILIENT_SYNC_INSTALLED;
    process.env.RESILIENT_SYNC_INSTALLED = "1";
    t.after(() => {
      if (before === undefined) delete process.env.RESILIENT_SYNC_INSTALLED;
      else process.env.RESILIENT_SYNC_INSTALLED = before;
    });
    assert.throws(
      () => normalizeOptions({ artifactRoot: "/srv/out" }, INSTALLED),
      (error: unknown) => error instanceof UsageError && /no source given/.test(error.message),
    );
    const worker = normalizeOptions({ artifactRoot: "/srv/out" }, INSTALLED, "queue");
    assert.deepEqual(worker.sources, []);
    assert.equal(worker.destination, undefined, "no single destination either");
    assert.equal(worker.artifactRoot, "/srv/out");
  });

  test("a worker's other options are normalised as a sync's are", () => {
    const options = { artifactRoot: "/srv/out", timeout: 7, maxRetries: 2 };
    const sync = normalizeOptions({ ...options, sources: ["https://example.com/a.csv"] });
    const worker = normalizeOptions(options, process.env, "queue");
    assert.equal(worker.timeoutMs, sync.timeoutMs);
    assert.equal(worker.maxAttempts, sync.maxAttempts);
    assert.equal(worker.lockDir, sync.lockDir);
    assert.throws(() => normalizeOptions({ timeout: -1 }, process.env, "queue"), UsageError);
  });

  test("--state-prefix dep and dep: are one deployment: one queue, one state", () => {
    const [bare, colon] = ["dep", "dep:"].map((statePrefix) => {
      const { state } = normalizeOptions(
        { state: "redis://127.0.0.1:6379", statePrefix, artifactRoot: "/srv/out" },
        process.env,
        "queue",
      );
      assert.equal(state.kind, "redis");
      return state.kind === "redis" ? state.prefix : "";
    });
    assert.equal(bare, "dep:");
    assert.equal(colon, "dep:");
    assert.equal(queuePrefixOf(bare as string), queuePrefixOf(colon as string));
  });
});
