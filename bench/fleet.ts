/**
 * The fleet's throughput: one batch of small files from nginx, shared out by `enqueue --wait`
 * to 1, 2 and 3 worker processes on one Redis, the worker counts interleaved round by round
 * (1 2 3 1 2 3 …) so that a noisy machine affects each alike. Also reports the Redis commands
 * each job costs (from `INFO commandstats`, reset before each batch), the figure that limits a
 * large fleet on one Redis primary.
 *
 * Usage: npm run build && node dist/bench/fleet.js [--files 2000] [--rounds 3]
 *          [--concurrency 8] [--workers 1,2,3]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { median } from "./lib/measure.js";
import { freePort, startNginx } from "./lib/nginx.js";

const CLI = fileURLToPath(new URL("../cli/main.js", import.meta.url));
const { values } = parseArgs({
  options: {
    files: { type: "string", default: "2000" },
    rounds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "8" },
    workers: { type: "string", default: "1,2,3" },
  },
});
const files = Number(values.files);
const rounds = Number(values.rounds);
const counts = values.workers.split(",").map(Number);

const work = await mkdtemp(join(tmpdir(), "resilient-sync-fleet-bench-"));
// nginx's workers run as nobody: the folders must be readable by all.
chmodSync(work, 0o755);
mkdirSync(join(work, "src"), { mode: 0o755 });
const body = Buffer.alloc(16 * 1024, 7);
for (let index = 0; index < files; index += 1) writeFileSync(join(work, "src", `f${index}`), body);
const nginx = await startNginx(join(work, "src"));
const list = join(work, "list.txt");
writeFileSync(list, Array.from({ length: files }, (_, i) => nginx.url(`/f${i}`)).join("\n"));

const port = await freePort();
const redisServer = spawn(
  "redis-server",
  ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
  { stdio: "ignore" },
);
const queue = `redis://127.0.0.1:${port}/0`;
// ioredis retries until the server listens; the first PING answers once it does.
const admin = new Redis(queue, { retryStrategy: () => 100 });
admin.on("error", () => {});
await admin.ping();

/** Starts `count` workers on `prefix`; resolves once all say they take jobs. */
async function startWorkers(count: number, prefix: string): Promise<ChildProcess[]> {
  const workers = Array.from({ length: count }, () =>
    spawn(
      process.execPath,
      [
        CLI,
        "worker",
        "--queue",
        queue,
        "--state-prefix",
        prefix,
        "--concurrency",
        values.concurrency,
      ],
      // Info lines (`worker started` among them) go to stdout, warnings to stderr.
      { stdio: ["ignore", "pipe", "ignore"] },
    ),
  );
  await Promise.all(
    workers.map(
      (worker) =>
        new Promise<void>((resolve, reject) => {
          let seen = "";
          const timer = setTimeout(
            () => reject(new Error(`no worker start in 20 s: ${seen}`)),
            20_000,
          );
          worker.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
            if (seen.includes('"worker started"')) return;
            seen += chunk;
            if (seen.includes('"worker started"')) {
              clearTimeout(timer);
              resolve();
            }
          });
          worker.once("close", (code) => reject(new Error(`a worker exited (${code}): ${seen}`)));
        }),
    ),
  );
  return workers;
}

/** Redis commands executed since the last reset, by command. */
async function commandStats(): Promise<Map<string, number>> {
  const info = await admin.info("commandstats");
  const stats = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    stats.set(match[1] as string, Number(match[2]));
  }
  return stats;
}

/** CPU seconds the Redis server has used so far (user + system, main thread and all). */
async function redisCpuSeconds(): Promise<number> {
  const info = await admin.info("cpu");
  const of = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? 0);
  return of("used_cpu_user") + of("used_cpu_sys");
}

interface Sample {
  workers: number;
  seconds: number;
  commands: number;
  /** Redis CPU per job, µs. */
  redisCpuUs: number;
  top: string;
}
const samples: Sample[] = [];
console.log(
  `fleet bench: ${files} × 16 KiB from nginx, --concurrency ${values.concurrency} per worker, ` +
    `${rounds} rounds, ${availableParallelism()} cores, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
);
for (let round = 1; round <= rounds; round += 1) {
  for (const count of counts) {
    const prefix = `bench${round}w${count}:`;
    const out = join(work, `out-${round}-${count}`);
    const running = await startWorkers(count, prefix);
    await admin.config("RESETSTAT");
    const cpuBefore = await redisCpuSeconds();
    const started = performance.now();
    const enqueue = spawn(
      process.execPath,
      [CLI, "enqueue", "--queue", queue, "--state-prefix", prefix, "-i", list].concat([
        "--artifact-root",
        out,
        "--wait",
      ]),
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let complaints = "";
    for (const stream of [enqueue.stdout, enqueue.stderr]) {
      stream?.setEncoding("utf8").on("data", (chunk: string) => {
        complaints = (complaints + chunk).slice(-4000);
      });
    }
    const [code] = (await once(enqueue, "close")) as [number | null];
    const seconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`enqueue exited ${code}: ${complaints}`);
    const redisCpuUs = (((await redisCpuSeconds()) - cpuBefore) * 1e6) / files;
    const stats = await commandStats();
    const commands = [...stats.values()].reduce((sum, calls) => sum + calls, 0);
    const top = [...stats.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([name, calls]) => `${name} ${(calls / files).toFixed(1)}`)
      .join(", ");
    samples.push({ workers: count, seconds, commands, redisCpuUs, top });
    console.log(
      `round ${round}, ${count} worker(s): ${seconds.toFixed(2)} s, ${(files / seconds).toFixed(0)} files/s, ` +
        `${(commands / files).toFixed(1)} Redis commands and ${redisCpuUs.toFixed(0)} µs of Redis CPU per job (${top})`,
    );
    for (const worker of running) worker.kill("SIGTERM");
    await Promise.all(running.map((worker) => once(worker, "close")));
    await admin.eval(
      "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end",
      0,
      `${prefix}*`,
    );
    await rm(out, { recursive: true, force: true });
  }
}

// The shared state's share of those commands: one local run on the same Redis, no queue.
{
  const prefix = "benchlocal:";
  const out = join(work, "out-local");
  await admin.config("RESETSTAT");
  const cpuBefore = await redisCpuSeconds();
  const local = spawn(
    process.execPath,
    [CLI, "-i", list, "--artifact-root", out, "--state", queue, "--state-prefix", prefix],
    { stdio: "ignore" },
  );
  const [code] = (await once(local, "close")) as [number | null];
  if (code !== 0) throw new Error(`the local run exited ${code}`);
  const cpuUs = (((await redisCpuSeconds()) - cpuBefore) * 1e6) / files;
  const stats = await commandStats();
  const commands = [...stats.values()].reduce((sum, calls) => sum + calls, 0);
  console.log(
    `a local run with --state on the same Redis (no queue): ${(commands / files).toFixed(1)} ` +
      `Redis commands and ${cpuUs.toFixed(0)} µs of Redis CPU per pair`,
  );
  await rm(out, { recursive: true, force: true });
}

console.log("\nmedians:");
const oneWorker = median(samples.filter((s) => s.workers === 1).map((s) => s.seconds));
for (const count of counts) {
  const mine = samples.filter((sample) => sample.workers === count);
  const seconds = median(mine.map((sample) => sample.seconds));
  const perJob = median(mine.map((sample) => sample.commands / files));
  const cpu = median(mine.map((sample) => sample.redisCpuUs));
  console.log(
    `  ${count} worker(s): ${(files / seconds).toFixed(0)} files/s, ${seconds.toFixed(2)} s, ` +
      `${(oneWorker / seconds).toFixed(2)}× one worker, ${perJob.toFixed(1)} Redis commands and ` +
      `${cpu.toFixed(0)} µs of Redis CPU per job (one Redis core: ~${Math.round(1e6 / cpu)} jobs/s)`,
  );
}
console.log(
  `load after: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
admin.disconnect();
redisServer.kill("SIGTERM");
await nginx.stop();
await rm(work, { recursive: true, force: true });
