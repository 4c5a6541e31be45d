/** The worker pool on its own: plan order, the origin gate, linear time, an aborted schedule. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { OriginGate } from "../../src/health/origin-gate.js";
import { runScheduled } from "../../src/run/scheduler.js";

/** A gate that counts how often a worker asks it for a turn. */
class CountingGate extends OriginGate {
  asked = 0;
  override tryEnter(origin: string) {
    this.asked += 1;
    return super.tryEnter(origin);
  }
}

const never = new AbortController().signal;

describe("runScheduled", () => {
  for (const [what, originOf] of [
    ["each on its own origin", (i: number) => `file:///f${i}`],
    ["all on one proven origin", () => "https://one.test:443"],
  ] as const) {
    test(`100,000 items ${what} are scheduled in linear time, results in plan order`, async () => {
      const gate = new CountingGate();
      gate.prove("https://one.test:443", "answered", 0);
      const items = Array.from({ length: 100_000 }, (_, i) => i);
      const results = await runScheduled(items, {
        limit: 8,
        gate,
        originOf,
        work: async (i) => i * 2,
        signal: never,
      });
      assert.deepEqual(results.slice(0, 3), [0, 2, 4]);
      assert.equal(results[99_999], 199_998);
      // Each take asks at most one gate per transfer in flight, plus the one it takes.
      assert.ok(gate.asked <= items.length * 9, `${gate.asked} turns asked for`);
    });
  }

  test("a suspect origin's items wait for its one turn while other origins' go on", async () => {
    const gate = new OriginGate();
    const order: string[] = [];
    let releaseSlow: () => void = () => {};
    const slow = new Promise<void>((resolve) => {
      releaseSlow = resolve;
    });
    const items = ["dead-1", "dead-2", "ok-1", "ok-2", "ok-3"];
    const running = runScheduled(items, {
      limit: 2,
      gate,
      originOf: (item) => item.split("-")[0],
      work: async (item) => {
        order.push(item);
        if (item === "dead-1") await slow;
        if (item.startsWith("ok")) gate.prove("ok", "finished", 0);
        return item;
      },
      signal: never,
    });
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      order.slice(0, 2),
      ["dead-1", "ok-1"],
      "the second worker skips the busy origin",
    );
    releaseSlow();
    assert.deepEqual(await running, items);
  });

  test("aborted, it starts nothing more; what never started is `unstarted`'s to report", async () => {
    const controller = new AbortController();
    const results = await runScheduled([1, 2, 3, 4], {
      limit: 1,
      gate: new OriginGate(),
      originOf: (i) => `o${i}`,
      work: async (i) => {
        if (i === 2) controller.abort("deadline");
        return `done ${i}`;
      },
      signal: controller.signal,
      unstarted: (i, reason) => `${reason} ${i}`,
    });
    assert.deepEqual(results, ["done 1", "done 2", "deadline 3", "deadline 4"]);
    await assert.rejects(
      runScheduled([1, 2], {
        limit: 1,
        gate: new OriginGate(),
        originOf: () => "o",
        work: async () => {
          throw new Error("not reached");
        },
        signal: AbortSignal.abort("interrupted"),
      }),
      (reason) => reason === "interrupted",
    );
  });

  test("a local file's origin is forgotten once its pair is done; a turn still held keeps it", async () => {
    const gate = new OriginGate();
    const finishedWhileFree: boolean[] = [];
    // Each item is a local file, an origin of its own, as in a directory of a million files.
    const items = Array.from({ length: 50 }, (_, i) => `file:///data/f${i}`);
    await runScheduled(items, {
      limit: 4,
      gate,
      originOf: (item) => item,
      work: async (item) => {
        gate.prove(item, "finished", 0);
        return item;
      },
      finished: (item) => {
        // Called after the scheduler left the turn: the gate must see the origin free.
        const turn = gate.tryEnter(item);
        finishedWhileFree.push(turn !== undefined);
        turn?.leave();
        gate.forget(item);
      },
      signal: never,
    });
    assert.equal(finishedWhileFree.length, items.length, "told of every item once");
    assert.ok(finishedWhileFree.every(Boolean));
    assert.equal(gate.size, 0, "no origin state left after the run");

    const held = gate.tryEnter("file:///busy");
    gate.forget("file:///busy");
    assert.equal(gate.tryEnter("file:///busy"), undefined, "a held turn survives forget");
    held?.leave();
    gate.prove("file:///busy", "finished", 0);
    gate.forget("file:///busy");
    assert.equal(gate.isProven("file:///busy"), false, "forgotten: unproven again");
  });

  test("aborted behind an unproven origin, 200,000 waiting items are each reported unstarted, in order", async () => {
    // One origin, never proven: the first transfer holds its turn and every other item waits in
    // its queue. The abort hands them all to `unstarted` (a spread of the queue into one call
    // overflowed the stack at about 125,000).
    const controller = new AbortController();
    const items = Array.from({ length: 200_000 }, (_, i) => i);
    const results = await runScheduled(items, {
      limit: 8,
      gate: new OriginGate(),
      originOf: () => "https://slow.test:443",
      work: async (i) => {
        await new Promise((resolve) => setImmediate(resolve));
        controller.abort("deadline");
        return `done ${i}`;
      },
      signal: controller.signal,
      unstarted: (i) => `unstarted ${i}`,
    });
    assert.equal(results[0], "done 0");
    assert.equal(results[1], "unstarted 1");
    assert.equal(results[199_999], "unstarted 199999");
    assert.equal(results.filter((r) => r.startsWith("unstarted")).length, 199_999);
  });
});
