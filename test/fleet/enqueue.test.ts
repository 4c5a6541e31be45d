/**
 * `enqueue` at its edges, through the real CLI on a real redis-server: a batch id names one
 * batch (a reused `RUN_ID` is refused, never answered with an older batch's results), a signal
 * or a lost Redis in the middle of queueing says how far it got, and `--wait` says why it is
 * still waiting instead of staying silent.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Redis } from "ioredis";
import { CliProcess } from "../helpers/cli.js";
import { fleetOn } from "../helpers/fleet.js";
import { REDIS_SKIP, startRedis, useRedis } from "../helpers/redis.js";
import { bytes, useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const server = useTestServer();
const redis = useRedis();

/** Jobs BullMQ holds for `prefix` (their hashes: `<prefix>jobs:<batch>.<index>`). */
async function queuedJobs(url: string, prefix: string, batch: string): Promise<number> {
  const client = new Redis(url);
  try {
    return (await client.keys(`${prefix}jobs:${batch}.*`)).length;
  } finally {
    client.disconnect();
  }
}

/** An input list of `count` URLs nobody fetches (no worker runs): planning needs no request. */
async function bigList(dir: string, count: number): Promise<string> {
  const list = join(dir, "list.txt");
  const lines = Array.from({ length: count }, (_, index) => server.url(`/big/f${index}.bin`));
  await writeFile(list, `${lines.join("\n")}\n`);
  return list;
}

describe("enqueue", { skip: REDIS_SKIP }, () => {
  test("a batch id already on the queue is refused (exit 64), whatever its sources", async (t) => {
    const dir = await tempDir(t);
    const fleet = fleetOn(redis.server.url());
    t.after(() => fleet.stopAll());
    server.route("/first.bin", { body: bytes(1000, 1) });
    server.route("/second.bin", { body: bytes(1000, 2) });
    const env = { env: { RUN_ID: "nightly" } };
    await fleet.startWorker();
    const out = ["--artifact-root", join(dir, "out"), "--wait"];
    const first = await fleet.enqueueWith(env, server.url("/first.bin"), ...out);
    assert.equal(first.code, 0, first.stderr);
    for (const source of ["/second.bin", "/first.bin"]) {
      const again = await fleet.enqueueWith(env, server.url(source), ...out, "--json");
      assert.equal(again.code, 64, again.stderr);
      assert.match(again.stderr, /batch id nightly is already on --queue .*RUN_ID/);
      assert.equal(again.stdout, "", "no results: not an older batch's");
    }
    assert.equal(server.requestsFor("/second.bin").length, 0);
    assert.equal(await queuedJobs(fleet.queue, fleet.prefix, "nightly"), 1);
    // A batch id BullMQ cannot take as a job id prefix is bad input, not an internal error.
    const bad = await fleet.enqueueWith({ env: { RUN_ID: "a:b" } }, server.url("/first.bin"));
    assert.equal(bad.code, 64, bad.stderr);
    assert.match(bad.stderr, /RUN_ID/);
  });

  test("SIGTERM while queueing: exit 143, and it says how many jobs of which batch are queued", async (t) => {
    const dir = await tempDir(t);
    const fleet = fleetOn(redis.server.url());
    const list = await bigList(dir, 3000);
    const enqueue = fleet.spawnEnqueue(["-i", list], {
      env: { RUN_ID: "stopped", RESILIENT_SYNC_FAILPOINT: "enqueue-chunk-added:stop" },
    });
    await enqueue.waitForLog("paused at failpoint", 30_000);
    await enqueue.untilStopped();
    enqueue.child.kill("SIGTERM");
    enqueue.child.kill("SIGCONT");
    const run = await enqueue.done;
    assert.equal(run.code, 143, run.stderr);
    const partial = run.logs.find((line) => line.message === "batch partly queued");
    assert.ok(partial, run.stderr);
    const queued = await queuedJobs(fleet.queue, fleet.prefix, "stopped");
    assert.equal(partial.queued, queued);
    assert.equal(partial.jobs, 3000);
    assert.ok(queued > 0 && queued < 3000, `${queued} of 3000 queued`);
  });

  test("Redis lost while queueing: exit 42 naming --queue, the batch and how many were queued", async (t) => {
    const dir = await tempDir(t);
    const own = await startRedis();
    t.after(() => own.stop());
    const fleet = fleetOn(own.url());
    const list = await bigList(dir, 3000);
    const enqueue = fleet.spawnEnqueue(["-i", list], {
      env: { RUN_ID: "cut", RESILIENT_SYNC_FAILPOINT: "enqueue-chunk-added:stop" },
    });
    await enqueue.waitForLog("paused at failpoint", 30_000);
    await enqueue.untilStopped();
    await own.kill();
    enqueue.child.kill("SIGCONT");
    const run = await enqueue.done;
    assert.equal(run.code, 42, run.stderr);
    assert.match(
      run.stderr,
      /--queue redis:\/\/127\.0\.0\.1:\d+\/0 lost after queuing 500 of 3000 jobs of batch cut/,
    );
  });

  test("a read-only replica is refused at start (42), by enqueue and by a worker", async (t) => {
    const dir = await tempDir(t);
    const replica = await startRedis();
    t.after(() => replica.stop());
    const client = new Redis(replica.url());
    t.after(() => client.disconnect());
    await client.replicaof("127.0.0.1", String(redis.server.port));
    const fleet = fleetOn(replica.url());
    const run = await fleet.enqueue(server.url("/never.bin"), "--artifact-root", join(dir, "o"));
    assert.equal(run.code, 42, run.stderr);
    assert.match(run.stderr, /is a read-only replica: point --queue at the primary/);
    const worker = new CliProcess([
      "worker",
      "--queue",
      replica.url(),
      "--state-prefix",
      fleet.prefix,
    ]);
    const done = await worker.done;
    assert.equal(done.code, 42, done.stderr);
    // A replica as the shared state: refused too, not discovered job by job (READONLY).
    const stateOnReplica = new CliProcess([
      "worker",
      "--queue",
      redis.server.url(),
      "--state",
      replica.url(),
      "--state-prefix",
      fleet.prefix,
    ]);
    const refused = await stateOnReplica.done;
    assert.equal(refused.code, 42, refused.stderr);
    assert.match(refused.stderr, /state store redis:\/\/\S+ is a read-only replica/);
  });

  test("Redis lost while the plan is made: exit 42 in seconds, nothing claimed", {
    timeout: 60_000,
  }, async (t) => {
    const dir = await tempDir(t);
    const own = await startRedis();
    t.after(() => own.stop());
    server.route("/plan/dir/", {
      body: Buffer.from('<a href="f.bin">f.bin</a>'),
      headers: { "content-type": "text/html" },
      script: [{ kind: "hold-answer" }],
    });
    const fleet = fleetOn(own.url());
    const enqueue = fleet.spawnEnqueue([
      "--artifact-root",
      join(dir, "o"),
      server.url("/plan/dir/"),
    ]);
    await server.waitFor(() => server.requestsFor("/plan/dir/").length === 1);
    await own.kill();
    server.release();
    const run = await enqueue.done;
    assert.equal(run.code, 42, run.stderr);
    assert.match(run.stderr, /--queue redis:\/\/127\.0\.0\.1:\d+\/0 /);
  });

  test("--wait on a frozen Redis says so, and SIGTERM still ends it (143)", {
    timeout: 60_000,
  }, async (t) => {
    const dir = await tempDir(t);
    const own = await startRedis();
    t.after(() => own.kill());
    const fleet = fleetOn(own.url());
    const enqueue = fleet.spawnEnqueue([
      "--artifact-root",
      join(dir, "o"),
      "--wait",
      server.url("/never.bin"),
    ]);
    t.after(() => enqueue.child.kill("SIGKILL"));
    await enqueue.waitForLog("no worker on the queue", 15_000);
    own.process.kill("SIGSTOP");
    t.after(() => own.process.kill("SIGCONT"));
    await enqueue.waitForLog("queue unreachable", 30_000);
    enqueue.child.kill("SIGTERM");
    const run = await enqueue.done;
    assert.equal(run.code, 143, run.stderr);
  });

  test("--wait: a worker on another database of the same Redis is no worker of this queue", async (t) => {
    const dir = await tempDir(t);
    const elsewhere = fleetOn(redis.server.url(2));
    t.after(() => elsewhere.stopAll());
    await elsewhere.startWorker();
    // The same prefix, database 3: the worker above never sees these jobs.
    const here = fleetOn(redis.server.url(3), elsewhere.prefix);
    server.route("/other-db.bin", { body: bytes(1000, 5) });
    const enqueue = here.spawnEnqueue([
      server.url("/other-db.bin"),
      "--artifact-root",
      join(dir, "out"),
      "--wait",
    ]);
    t.after(() => enqueue.child.kill("SIGKILL"));
    const idle = await enqueue.waitForLog("no worker on the queue", 15_000);
    assert.equal(idle.queue, redis.server.url(3));
    enqueue.child.kill("SIGTERM");
    assert.equal((await enqueue.done).code, 143);
  });

  test("--wait says when no worker takes jobs and when Redis is away, then finishes once one does", async (t) => {
    const dir = await tempDir(t);
    const own = await startRedis({ persist: true });
    t.after(() => own.stop());
    const fleet = fleetOn(own.url());
    t.after(() => fleet.stopAll());
    server.route("/waited.bin", { body: bytes(2000, 3) });
    const enqueue = fleet.spawnEnqueue([
      server.url("/waited.bin"),
      "--artifact-root",
      join(dir, "out"),
      "--wait",
    ]);
    t.after(() => enqueue.child.kill("SIGKILL"));
    const idle = await enqueue.waitForLog("no worker on the queue", 15_000);
    assert.equal(idle.queue, own.url());
    await own.restart(() => enqueue.waitForLog("queue unreachable", 15_000));
    await enqueue.waitForLog("queue reachable again", 15_000);
    await fleet.startWorker();
    const run = await enqueue.done;
    assert.equal(run.code, 0, run.stderr);
    assert.equal(server.requestsFor("/waited.bin").length, 1);
  });

  test("--wait --json with stdout's reader gone: every job runs, and the lost document is exit 73", async (t) => {
    const dir = await tempDir(t);
    const fleet = fleetOn(redis.server.url());
    t.after(() => fleet.stopAll());
    for (let index = 0; index < 20; index += 1)
      server.route(`/closed/f${index}.bin`, { body: bytes(500, index) });
    await fleet.startWorker();
    const enqueue = fleet.spawnEnqueue([
      ...Array.from({ length: 20 }, (_, index) => server.url(`/closed/f${index}.bin`)),
      "--artifact-root",
      join(dir, "out"),
      "--wait",
      "--json",
    ]);
    t.after(() => enqueue.child.kill("SIGKILL"));
    // The reader goes away before the first byte: the document can never be written.
    enqueue.child.stdout?.destroy();
    const run = await enqueue.done;
    assert.equal(run.code, 73, run.stderr);
    assert.doesNotMatch(run.stderr, /EPIPE|Unhandled|\n\s+at /);
    for (let index = 0; index < 20; index += 1)
      assert.equal(server.requestsFor(`/closed/f${index}.bin`).length, 1);
  });
});
