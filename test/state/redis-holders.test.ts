/**
 * Leases on a real redis-server held by real processes: a holder killed (SIGKILL) keeps its lease
 * until Redis expires it — a fleet cannot tell "gone" from "paused" — and is then taken over as
 * `expired`; a holder stopped (SIGSTOP) at its commit, past its lease, and continued is refused:
 * it says `lock lost`, and the next holder's file and marker stand.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { systemClock } from "../../src/clock.js";
import { silentLogger } from "../../src/log/events.js";
import { closeRedis, connectRedis } from "../../src/state/redis/connection.js";
import { parseRedisLocation } from "../../src/state/redis/location.js";
import { RedisStateStore } from "../../src/state/redis/store.js";
import { CliProcess, findLog, runCli } from "../helpers/cli.js";
import { REDIS_SKIP, useRedis } from "../helpers/redis.js";
import { bytes, sha256, useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const redis = useRedis();
const server = useTestServer();
const TTL_MS = 1000;

/** A process that takes lease `key` (TTL 1 s, renewed on the system clock), prints its fence, and holds it. */
const HOLDER = `
const [url, prefix, key] = process.argv.slice(1);
const from = (path) => import(new URL(path, ${JSON.stringify(import.meta.url)}).href);
const { connectRedis } = await from("../../src/state/redis/connection.js");
const { parseRedisLocation } = await from("../../src/state/redis/location.js");
const { RedisStateStore } = await from("../../src/state/redis/store.js");
const { systemClock } = await from("../../src/clock.js");
const { silentLogger } = await from("../../src/log/events.js");
const location = parseRedisLocation(url);
const client = await connectRedis(location, silentLogger);
const store = new RedisStateStore({ client, clock: systemClock, logger: silentLogger, prefix, display: location.display });
const lease = await store.acquire(key, { ttlMs: ${TTL_MS}, waitMs: 0 });
process.stdout.write(JSON.stringify(lease.fence) + "\\n");
setInterval(() => {}, 1 << 30);
`;

async function storeOn(url: string, prefix: string) {
  const location = parseRedisLocation(url);
  const client = await connectRedis(location, silentLogger);
  const store = new RedisStateStore({
    client,
    clock: systemClock,
    logger: silentLogger,
    prefix,
    display: location.display,
  });
  return { client, store };
}

/** A sync of the test server's `path` to `destination`, its state in the Redis under `prefix`. */
function syncArgs(path: string, destination: string, dir: string, prefix: string): string[] {
  return [
    "--source-url",
    server.url(path),
    "--destination",
    destination,
    "--lock-dir",
    join(dir, "locks"),
    "--state",
    redis.server.url(),
    "--state-prefix",
    prefix,
  ];
}

describe("Redis leases held by real processes", { skip: REDIS_SKIP }, () => {
  test("a holder killed by SIGKILL keeps its lease until Redis expires it; the next holder finds it expired", async (t) => {
    const prefix = `sigkill-${process.pid}:`;
    const key = "file:///shared/data.bin";
    const child = spawn(
      process.execPath,
      ["--input-type=module", "-e", HOLDER, redis.server.url(), prefix, key],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    t.after(() => child.kill("SIGKILL"));
    const [line] = (await once(child.stdout.setEncoding("utf8"), "data")) as [string];
    const fence = JSON.parse(line) as { value: number; token: string };
    const { client, store } = await storeOn(redis.server.url(), prefix);
    t.after(() => closeRedis(client));

    // Alive, it renews: waiting for more than twice its TTL gets nothing.
    assert.equal(await store.acquire(key, { ttlMs: TTL_MS, waitMs: 2.5 * TTL_MS }), undefined);
    child.kill("SIGKILL");
    await once(child, "exit");
    // Dead, its lease stays until Redis expires it: nobody can tell a dead holder from a paused one.
    assert.equal(await store.acquire(key, { ttlMs: TTL_MS, waitMs: 0 }), undefined);
    const next = await store.acquire(key, { ttlMs: TTL_MS, waitMs: 20 * TTL_MS });
    assert.ok(next, "taken once Redis expired the dead holder's lease");
    assert.deepEqual(next.predecessor, {
      ended: "expired",
      fence: fence.value,
      token: fence.token,
    });
    assert.ok(next.fence.value > fence.value);
    await next.release();
  });

  test("a holder stopped at its commit past its lease and continued is refused: `lock lost`, the next holder's file and marker stand", async (t) => {
    const dir = await tempDir(t);
    const destination = join(dir, "out", "data.bin");
    const prefix = `sigstop-${process.pid}:`;
    const v1 = bytes(400_000, 901);
    const v2 = bytes(300_000, 902);
    server.route("/stop-a.bin", { body: v1 });
    server.route("/stop-b.bin", { body: v2 });
    const args = (path: string, ...extra: string[]) => [
      ...syncArgs(path, destination, dir, prefix),
      ...extra,
    ];
    const holder = new CliProcess(args("/stop-a.bin"), {
      env: { RESILIENT_SYNC_FAILPOINT: "before-rename:stop" },
    });
    t.after(() => holder.child.kill("SIGKILL"));
    await holder.waitForLog("paused at failpoint");

    // The next run waits out the stopped holder's lease (Redis expires it), commits v2.
    const next = await runCli([
      ...args("/stop-b.bin", "--wait-lock", "60"),
      "--checksum",
      sha256(v2),
    ]);
    assert.equal(next.code, 0, next.stderr);
    assert.ok(findLog(next, "waiting for lock"), "the lease was busy at first");
    assert.equal(sha256(await readFile(destination)), sha256(v2));

    // The holder goes on from just before its rename: its lease is gone, so it renames nothing.
    holder.child.kill("SIGCONT");
    const woke = await holder.done;
    assert.equal(woke.code, 0, woke.stderr);
    assert.ok(findLog(woke, "lock lost"), woke.stderr);
    assert.equal(findLog(woke, "updated destination"), undefined, "the holder committed nothing");
    assert.equal(sha256(await readFile(destination)), sha256(v2), "the next holder's file stands");

    const { client } = await storeOn(redis.server.url(), prefix);
    t.after(() => closeRedis(client));
    const markers = await client.keys(`${prefix}marker:*`);
    assert.equal(markers.length, 1);
    const marker = JSON.parse(String(await client.get(markers[0] as string))) as {
      checksum: string;
    };
    assert.equal(marker.checksum, sha256(v2), "the next holder's marker stands");
  });

  test("a lease Redis no longer has, with nobody taking it (it lapsed, or Redis restarted without persistence): the pair fails, exit 73, the old file stands", async (t) => {
    const dir = await tempDir(t);
    const destination = join(dir, "out", "data.bin");
    await mkdir(join(dir, "out"));
    await writeFile(destination, "old\n");
    const prefix = `lost-${process.pid}:`;
    server.route("/lost.bin", {
      body: bytes(400_000, 903),
      pace: { chunkBytes: 20_000, intervalMs: 100 },
    });
    const run = new CliProcess(syncArgs("/lost.bin", destination, dir, prefix));
    t.after(() => run.child.kill("SIGKILL"));
    await run.waitForLog("attempting download");
    const { client } = await storeOn(redis.server.url(), prefix);
    t.after(() => closeRedis(client));
    const leases = await client.keys(`${prefix}lease:*`);
    assert.equal(leases.length, 1);
    await client.del(...leases);
    // Something else touches the file meanwhile (a backup tool, a chmod): no run committed it.
    await chmod(destination, 0o600);
    const done = await run.done;
    assert.equal(done.code, 73, done.stderr);
    assert.ok(findLog(done, "lock lost"), done.stderr);
    assert.equal(await readFile(destination, "utf8"), "old\n");
  });
});
