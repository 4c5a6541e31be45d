/**
 * What the fleet says of its queue's Redis: `queue unreachable` for connection errors only.
 * BullMQ's other errors (a job lock it could not renew) are `queue error`: alerts built on the
 * outage lines must not fire for them.
 */
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, test } from "node:test";
import { QueueOutage } from "../../src/fleet/outage.js";
import { recordingLogger } from "../helpers/fakes.js";

/** A BullMQ worker as the outage sees it: errors as events, a client that reconnects. */
function watched() {
  const client = new EventEmitter();
  const emitter = Object.assign(new EventEmitter(), { client: Promise.resolve(client) });
  return { emitter, client };
}

describe("queue outages", () => {
  test("a lost job lock is a queue error, not an outage; a refused connection is, once per cause, until ready again", async () => {
    const logger = recordingLogger();
    const { emitter, client } = watched();
    new QueueOutage("redis://127.0.0.1:6379/0", logger).watch(emitter);
    await Promise.resolve();
    emitter.emit("error", new Error("could not renew lock for job b.7"));
    emitter.emit("error", new Error("Missing lock for job b.8. moveToFinished"));
    emitter.emit("error", new Error("Missing key for job b.9. moveToFinished"));
    emitter.emit("error", new Error("Job b.10 is not in the active state. moveToFinished"));
    assert.deepEqual(logger.messages(), [
      "queue error",
      "queue error",
      "queue error",
      "queue error",
    ]);
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6379"), {
      code: "ECONNREFUSED",
    });
    emitter.emit("error", refused);
    emitter.emit("error", refused);
    // One BullMQ's own test for connection errors misses: an outage all the same.
    emitter.emit("error", Object.assign(new Error("connect ETIMEDOUT"), { code: "ETIMEDOUT" }));
    client.emit("ready");
    assert.deepEqual(logger.messages().slice(4), [
      "queue unreachable",
      "queue unreachable",
      "queue reachable again",
    ]);
  });
});
