/**
 * The fleet through the real CLI: worker processes on a real redis-server share a batch queued
 * by `enqueue`; an origin served by node:http counts every request. Each source is fetched once
 * however many workers there are; a SIGKILLed worker's jobs are finished by the others; a
 * SIGTERMed one hands its jobs back and exits 143; `--wait` reports as a local run does.
 */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Redis } from "ioredis";
import { CliProcess, type LogLine } from "../helpers/cli.js";
import { fleetOn } from "../helpers/fleet.js";
import { REPORT_NEW_SPACE, reportedNewSpace } from "../helpers/new-space.js";
import { REDIS_SKIP, useRedis } from "../helpers/redis.js";
import { assertValidReport } from "../helpers/schema.js";
import { bytes, sha256, useTestServer } from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

const server = useTestServer();
const redis = useRedis();

interface Doc {
  run_id: string;
  exit_code: number;
  summary: { total: number; synced: number; failed: number; unchanged: number };
  results: { source: string; status: string; checksum: string | null; destination: string }[];
}

/** `count` sources of `size` bytes under `/name/`, served (optionally paced); their URLs. */
function serve(
  name: string,
  count: number,
  size: number,
  pace?: { chunkBytes: number; intervalMs: number },
) {
  const urls: string[] = [];
  const bodies = new Map<string, Buffer>();
  for (let index = 0; index < count; index += 1) {
    const path = `/${name}/f${index}.bin`;
    const body = bytes(size, index + 1);
    server.route(path, { body, ...(pace ? { pace } : {}) });
    urls.push(server.url(path));
    bodies.set(path, body);
  }
  return { urls, bodies };
}

/**
 * The `enqueue --wait --json` run succeeded, synced every one of `bodies`, and each result's
 * destination holds the body served at its source's path.
 */
async function assertAllSynced(
  run: { code: number | null; stdout: string; stderr: string },
  bodies: Map<string, Buffer>,
): Promise<void> {
  assert.equal(run.code, 0, run.stderr);
  const doc = JSON.parse(run.stdout) as Doc;
  assert.equal(doc.summary.synced, bodies.size, JSON.stringify(doc.summary));
  for (const result of doc.results) {
    const body = bodies.get(new URL(result.source).pathname) as Buffer;
    assert.deepEqual(await readFile(result.destination), body, result.destination);
  }
}

const jobLines = (logs: LogLine[], message: string) =>
  logs.filter((line) => line.message === message);

describe("a fleet of workers", { skip: REDIS_SKIP }, () => {
  test("3 workers share 1,000 sources: each fetched exactly once, results in plan order", async (t) => {
    const dir = await tempDir(t);
    const fleet = fleetOn(redis.server.url());
    t.after(() => fleet.stopAll());
    const { urls, bodies } = serve("many", 1000, 1024);
    const workers = await Promise.all([1, 2, 3].map(() => fleet.startWorker("--concurrency", "4")));
    const list = join(dir, "list.txt");
    await writeFile(list, `${urls.join("\n")}\n`);
    const run = await fleet.enqueue(
      "-i",
      list,
      "--artifact-root",
      join(dir, "out"),
      "--wait",
      "--json",
    );
    assert.equal(run.code, 0, run.stderr);
    const doc = JSON.parse(run.stdout) as Doc;
    assertValidReport(doc);
    assert.equal(doc.summary.synced, 1000);
    assert.deepEqual(
      doc.results.map((result) => result.source),
      urls,
      "results in plan order",
    );
    for (const [path, _body] of bodies) {
      assert.equal(server.requestsFor(path).length, 1, `${path} fetched once`);
    }
    for (const result of doc.results) {
      const body = bodies.get(new URL(result.source).pathname) as Buffer;
      assert.equal(result.checksum, sha256(body));
      assert.deepEqual(await readFile(result.destination), body);
    }
    await fleet.stopAll();
    // Shared out: every worker committed some, and all their commits add up to the batch.
    const commits = await Promise.all(
      workers.map(async (worker) => jobLines((await worker.done).logs, "updated destination")),
    );
    for (const lines of commits) assert.ok(lines.length > 0, "each worker took jobs");
    assert.equal(commits.flat().length, 1000);
    // Every line about a job says which job and which worker.
    for (const line of commits.flat()) {
      assert.match(String(line.job_id), new RegExp(`^${doc.run_id}\\.\\d+$`));
      assert.match(String(line.worker_id), /^.+:\d+$/);
    }
  });

  test("an installed copy's worker starts with no source and syncs what is queued", async (t) => {
    const dir = await tempDir(t);
    const fleet = fleetOn(redis.server.url());
    t.after(() => fleet.stopAll());
    const { urls, bodies } = serve("installed", 3, 2048);
    // An installed copy has no bundled sample to fall back on; a worker needs none.
    const installed = { env: { RESILIENT_SYNC_INSTALLED: "1", REPO_ROOT: undefined }, cwd: dir };
    await fleet.startWorkerWith(installed, "--concurrency", "2");
    const run = await fleet.enqueue(
      ...urls,
      "--artifact-root",
      join(dir, "out"),
      "--wait",
      "--json",
    );
    await assertAllSynced(run, bodies);
  });

  test("a worker's young generation stays within 4 MiB semi-spaces (loading bullmq included)", async (t) => {
    const dir = await tempDir(t);
    const fleet = fleetOn(redis.server.url());
    t.after(() => fleet.stopAll());
    const { urls } = serve("young", 200, 4096);
    const worker = await fleet.startWorkerWith(
      { env: { NODE_OPTIONS: `--import=${REPORT_NEW_SPACE}` } },
      "--concurrency",
      "8",
    );
    const run = await fleet.enqueue(...urls, "--artifact-root", join(dir, "out"), "--wait");
    assert.equal(run.code, 0, run.stderr);
    await fleet.stopAll();
    const done = await worker.done;
    const newSpace = reportedNewSpace(done.stderr) ?? 0;
    assert.ok(newSpace > 0, done.stderr.slice(-500));
    // Steered from the start, V8 grew them to 16 MiB (32 MiB of new space) while bullmq loaded.
    assert.ok(newSpace <= 8 * 1024 * 1024, `new space ${newSpace} bytes`);
  });

  test("a SIGKILLed worker's jobs are finished by the others: every file whole, none twice", async (t) => {
    const dir = await tempDir(t);
    const fleet = fleetOn(redis.server.url());
    t.after(() => fleet.stopAll());
    // 300 ms per body: the victim surely has jobs in flight when it dies.
    const { urls, bodies } = serve("kill", 24, 64 * 1024, { chunkBytes: 8 * 1024, intervalMs: 40 });
    const victim = await fleet.startWorker("--concurrency", "4", "--stalled-after", "1");
    const enqueued = fleet.enqueue(
      ...urls,
      "--artifact-root",
      join(dir, "out"),
      "--wait",
      "--json",
    );
    await victim.waitForLog("attempting download");
    const survivor = await fleet.startWorker("--concurrency", "4", "--stalled-after", "1");
    victim.child.kill("SIGKILL");
    const killed = await victim.done;
    assert.equal(killed.signal, "SIGKILL");
    const run = await enqueued;
    await assertAllSynced(run, bodies);
    // Only the victim's jobs in flight were fetched again; nothing committed twice.
    const started = new Set(
      jobLines(killed.logs, "attempting download").map((line) => String(line.source)),
    );
    const unfinished = [...started].filter(
      (source) =>
        !jobLines(killed.logs, "updated destination").some((line) => line.source === source),
    );
    assert.ok(unfinished.length > 0, "the victim died with jobs in flight");
    for (const [path] of bodies) {
      const source = server.url(path);
      assert.ok(
        server.requestsFor(path).length <= (unfinished.includes(source) ? 2 : 1),
        `${path}: ${server.requestsFor(path).length} requests`,
      );
    }
    await fleet.stopAll();
    const survived = await survivor.done;
    const committed = [
      ...jobLines(killed.logs, "updated destination"),
      ...jobLines(survived.logs, "updated destination"),
    ].map((line) => line.source);
    assert.equal(new Set(committed).size, committed.length, "no source committed twice");
    assert.equal(committed.length, 24);
    assert.deepEqual(
      (await listFiles(join(dir, "out"))).filter((name) => name.includes(".part")),
      [],
      "no part file left",
    );
  });

  test("SIGTERM: the worker hands its jobs back and exits 143; another finishes them", async (t) => {
    const dir = await tempDir(t);
    const fleet = fleetOn(redis.server.url());
    t.after(() => fleet.stopAll());
    const { urls, bodies } = serve("term", 6, 64 * 1024, { chunkBytes: 4 * 1024, intervalMs: 50 });
    const leaving = await fleet.startWorker("--concurrency", "6");
    const enqueued = fleet.enqueue(
      ...urls,
      "--artifact-root",
      join(dir, "out"),
      "--wait",
      "--json",
    );
    await leaving.waitForLog("attempting download");
    leaving.child.kill("SIGTERM");
    const left = await leaving.done;
    assert.equal(left.code, 143, left.stderr);
    const handedBack = jobLines(left.logs, "job handed back");
    assert.ok(handedBack.length > 0, "jobs in flight went back to the queue");
    assert.equal(jobLines(left.logs, "worker stopped")[0]?.handed_back, handedBack.length);
    await fleet.startWorker("--concurrency", "6");
    const run = await enqueued;
    await assertAllSynced(run, bodies);
  });

  test("state kept where --state says (another db): a second batch is answered from the shared markers", async (t) => {
    const dir = await tempDir(t);
    const fleet = fleetOn(redis.server.url());
    t.after(() => fleet.stopAll());
    const { urls, bodies } = serve("again", 10, 2048);
    // The queue in db 0, the state in db 1.
    const state = ["--state", redis.server.url(1)];
    await fleet.startWorker("--concurrency", "2", ...state);
    const first = await fleet.enqueue(...urls, "--artifact-root", join(dir, "out"), "--wait");
    assert.equal(first.code, 0, first.stderr);
    const queueDb = new Redis(redis.server.url(0));
    const stateDb = new Redis(redis.server.url(1));
    t.after(() => {
      queueDb.disconnect();
      stateDb.disconnect();
    });
    assert.equal((await stateDb.keys(`${fleet.prefix}marker:*`)).length, 10, "markers in db 1");
    assert.deepEqual(await queueDb.keys(`${fleet.prefix}marker:*`), [], "no marker in db 0");
    // Another worker, which did none of the first batch, answers the second.
    await fleet.stopAll();
    const fresh = fleetOn(fleet.queue, fleet.prefix);
    t.after(() => fresh.stopAll());
    await fresh.startWorker("--concurrency", "2", ...state);
    const second = await fresh.enqueue(
      ...urls,
      "--artifact-root",
      join(dir, "out"),
      "--wait",
      "--json",
    );
    assert.equal(second.code, 0, second.stderr);
    const doc = JSON.parse(second.stdout) as Doc;
    assert.equal(doc.summary.unchanged, 10);
    for (const [path] of bodies) {
      const requests = server.requestsFor(path);
      assert.equal(requests.length, 2, `${path}: one GET, then one conditional request`);
      assert.equal(requests[1]?.status, 304);
    }
  });

  test("a job whose destination another runner holds waits for it and reports what that runner left: never skipped", {
    timeout: 90_000,
  }, async (t) => {
    const dir = await tempDir(t);
    const fleet = fleetOn(redis.server.url());
    t.after(() => fleet.stopAll());
    // 15 s of body: longer than a job waits for a busy destination (two lease times).
    const { urls, bodies } = serve("held", 1, 300_000, { chunkBytes: 20_000, intervalMs: 1000 });
    const [url] = urls as [string];
    const out = join(dir, "out");
    // A runner outside the fleet (or the job's own earlier delivery) holds the destination.
    const holder = new CliProcess([
      url,
      "--artifact-root",
      out,
      "--state",
      fleet.queue,
      "--state-prefix",
      fleet.prefix,
    ]);
    t.after(() => holder.child.kill("SIGKILL"));
    await holder.waitForLog("attempting download", 15_000);
    const worker = await fleet.startWorker();
    const run = await fleet.enqueue(url, "--artifact-root", out, "--wait", "--json");
    assert.equal((await holder.done).code, 0);
    assert.equal(run.code, 0, run.stderr);
    const doc = JSON.parse(run.stdout) as Doc;
    assert.equal(doc.summary.unchanged, 1, JSON.stringify(doc.summary));
    assert.ok(jobLines(worker.logs(), "job delayed").length >= 1, "put back while busy");
    const [path, body] = [...bodies][0] as [string, Buffer];
    assert.deepEqual(await readFile(join(out, "f0.bin")), body);
    assert.deepEqual(
      server.requestsFor(path).map((request) => request.status),
      [200, 304],
      "the holder's GET, then the job's conditional request",
    );
  });

  test("enqueue refuses bad input (exit 64) and a Redis it cannot reach (exit 42), queueing nothing", async (t) => {
    const dir = await tempDir(t);
    const fleet = fleetOn(redis.server.url());
    const url = server.url("/never.bin");
    const cases: [string[], RegExp][] = [
      [[url, "--max-workers", "3"], /--max-workers cannot be given to `resilient-sync enqueue`/],
      [[url, "--concurrency", "3"], /read by `resilient-sync worker`/],
      [[url, "--json"], /--json needs --wait/],
      [[], /needs SOURCE/],
      [[url.replace("http://", "http://user:pw@")], /carries credentials/],
      [[`${url}?X-Amz-Signature=pw`], /credential-like query parameter \(X-Amz-Signature\)/],
      [[`${url}?a=1&access_token=pw`], /credential-like query parameter \(access_token\)/],
      [[`${url}#access_token=pw`], /a fragment/],
      [[url, "--checksum", "nothex"], /--checksum/],
    ];
    for (const [args, reason] of cases) {
      const run = await fleet.enqueue(...args, "--artifact-root", join(dir, "out"));
      assert.equal(run.code, 64, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, reason);
      assert.doesNotMatch(run.stderr + run.stdout, /pw@|=pw/);
    }
    const client = new Redis(redis.server.url());
    t.after(() => client.disconnect());
    assert.deepEqual(await client.keys(`${fleet.prefix}*`), [], "nothing queued, nothing recorded");
    const unreachable = fleetOn("redis://127.0.0.1:1/0");
    const run = await unreachable.enqueue(url, "--artifact-root", join(dir, "out"), "--wait");
    assert.equal(run.code, 42, run.stderr);
    assert.match(run.stderr, /--queue redis:\/\/127\.0\.0\.1:1\/0 unreachable/);
    // A db the server does not have (16 by default) is refused, not swapped for db 0.
    const noSuchDb = fleetOn(redis.server.url(99));
    const refused = await noSuchDb.enqueue(url, "--artifact-root", join(dir, "out"));
    assert.equal(refused.code, 42, refused.stderr);
    assert.match(refused.stderr, /DB index is out of range/);
    assert.deepEqual(await client.keys(`${noSuchDb.prefix}*`), [], "nothing queued in db 0");
    assert.equal(server.requestsFor("/never.bin").length, 0);
  });
});
