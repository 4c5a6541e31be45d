/**
 * `npm run bench`: resilient-sync against curl, wget, aria2c and rclone on the same workloads,
 * served by nginx on 127.0.0.1 (the fault server of the tests for W4). Contenders alternate
 * (A B C A B C …) after a warm-up; medians, min–max, peak RSS and the ratio to each peer are
 * printed as a markdown table (`--json` for machines). Installs nothing: it names what is missing.
 *
 *   npm run bench -- [--runs N] [--only W1,W3,W7] [--quick] [--json]
 *
 * The ratio column is peer median / resilient-sync median for times (above 1: we are faster) and
 * resilient-sync / peer for rates.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  utimes,
  writeFile,
} from "node:fs/promises";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sha256, TestServer } from "../test/helpers/server.js";
import { createCostLine } from "./lib/create-cost.js";
import { type Measurement, measure, median, which } from "./lib/measure.js";
import { type Nginx, startNginx } from "./lib/nginx.js";
import { w7 } from "./segmented.js";
import { targetsTable } from "./targets.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLI = join(ROOT, "dist", "cli", "main.js");
const MiB = 1024 * 1024;

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const option = (name: string) => {
  const index = argv.indexOf(name);
  return index >= 0 ? argv[index + 1] : undefined;
};
const RUNS = Number(option("--runs") ?? 5);
const ONLY = option("--only")?.split(",");
const QUICK = flag("--quick");
const JSON_OUT = flag("--json");

interface Contender {
  name: string;
  ours?: boolean;
  /** Binary that must be installed, and how to install it. */
  needs?: { binary: string; install: string };
  command(out: string): string[];
  cwd?(out: string): string;
  /** Checks the output after a run; a contender that produced wrong output is reported as such. */
  verify?(out: string): Promise<boolean>;
}

interface Row {
  workload: string;
  contender: string;
  unit: "s" | "files/s" | "MiB";
  value: number | undefined;
  min?: number;
  max?: number;
  ratio?: number;
  peakRssMiB?: number | undefined;
  note?: string;
}

const rows: Row[] = [];
const log = (text: string) => process.stderr.write(`${text}\n`);

function available(contender: Contender): string | undefined {
  if (!contender.needs || which(contender.needs.binary)) return undefined;
  return `not installed (${contender.needs.install})`;
}

/**
 * Runs every contender `RUNS` times after one warm-up, alternating, each in a fresh output folder
 * (or the same one when `persistent`), with a `sync` after each run, and returns their measurements.
 * With `keepOutputs` each run gets a new folder and none is removed before the bench ends: see
 * `w2` for why.
 */
async function race(
  contenders: Contender[],
  options: {
    benchDir: string;
    persistent?: boolean;
    keepOutputs?: boolean;
    prepare?: (c: Contender, out: string) => Promise<void>;
  },
): Promise<Map<string, Measurement[]>> {
  const results = new Map<string, Measurement[]>();
  const outs = new Map<string, string>();
  const live = contenders.filter((c) => !available(c));
  for (const c of live) {
    const out = await mkdtemp(join(options.benchDir, `${c.name.replace(/\W+/g, "-")}-`));
    outs.set(c.name, out);
    await options.prepare?.(c, out);
    results.set(c.name, []);
  }
  for (let round = 0; round <= RUNS; round += 1) {
    for (const c of round % 2 === 0 ? live : [...live].reverse()) {
      let out = outs.get(c.name) as string;
      if (options.keepOutputs) {
        out = await mkdtemp(join(options.benchDir, `${c.name.replace(/\W+/g, "-")}-`));
        outs.set(c.name, out);
      } else if (!options.persistent) {
        await rm(out, { recursive: true, force: true });
        await mkdir(out, { recursive: true });
      }
      const m = await measure(c.command(out), { cwd: c.cwd?.(out) ?? out });
      // Untimed: write back this run's dirty pages now, or the next contender pays for them (a
      // tool that leaves 1 GiB unflushed, as curl and wget do, would slow whoever runs after it).
      execFileSync("sync");
      if (m.code !== 0) log(`  ${c.name} exited ${m.code}: ${m.stderr.slice(0, 300)}`);
      if (c.verify && !(await c.verify(out))) m.code = -1;
      if (round > 0) results.get(c.name)?.push(m); // round 0 is the warm-up
    }
  }
  // Kept outputs stay until the bench ends (its folder is removed then), so that no later
  // workload starts right after their removal either.
  if (!options.keepOutputs)
    for (const out of outs.values()) await rm(out, { recursive: true, force: true });
  return results;
}

function record(
  workload: string,
  contenders: Contender[],
  results: Map<string, Measurement[]>,
  unit: Row["unit"],
  perRun = 1,
) {
  const ours = contenders.find((c) => c.ours);
  const oursMedian = ours
    ? median((results.get(ours.name) ?? []).map((m) => m.seconds))
    : Number.NaN;
  for (const c of contenders) {
    const missing = available(c);
    if (missing) {
      rows.push({ workload, contender: c.name, unit, value: undefined, note: missing });
      continue;
    }
    const ms = results.get(c.name) ?? [];
    const seconds = ms.map((m) => m.seconds);
    const failed = ms.filter((m) => m.code !== 0).length;
    const med = median(seconds);
    const asRate = (s: number) => perRun / s;
    rows.push({
      workload,
      contender: c.name,
      unit,
      value: unit === "s" ? med : asRate(med),
      min: unit === "s" ? Math.min(...seconds) : asRate(Math.max(...seconds)),
      max: unit === "s" ? Math.max(...seconds) : asRate(Math.min(...seconds)),
      ...(c.ours ? {} : { ratio: med / oursMedian }),
      peakRssMiB: Math.max(...ms.map((m) => m.peakRssMiB ?? 0)) || undefined,
      ...(failed ? { note: `${failed} of ${ms.length} runs failed or produced wrong output` } : {}),
    });
  }
}

async function fileOf(path: string, size: number): Promise<void> {
  const block = randomBytes(MiB);
  const stream = createWriteStream(path);
  for (let written = 0; written < size; written += block.length) {
    if (!stream.write(written + block.length <= size ? block : block.subarray(0, size - written))) {
      await new Promise<void>((resolve) => stream.once("drain", () => resolve()));
    }
  }
  await new Promise<void>((resolve) => stream.end(() => resolve()));
}

/**
 * W2's and W3's floor: a bench-only Node program that keeps the tool's per-file promises (lock,
 * SHA-256, part, fsync, rename, marker, folder fsync; the no-op's marker and state checks) and does
 * nothing else (`bench/floors/lean-sync.ts`). Not a peer: what Node itself costs for that work here.
 */
const leanFloor = (list: string): Contender => ({
  name: "lean Node floor",
  command: (out) => [
    process.execPath,
    join(ROOT, "dist", "bench", "floors", "lean-sync.js"),
    list,
    out,
    "8",
  ],
});

const ours = (args: (out: string) => string[]): Contender => ({
  name: "resilient-sync",
  ours: true,
  command: (out) => [
    process.execPath,
    CLI,
    ...args(out),
    "--lock-dir",
    join(out, ".locks"),
    "--quiet",
  ],
});

async function w1(nginx: Nginx, data: string, benchDir: string) {
  log("W1: one 1 GiB file (SHA-256 computed, fsynced, committed — by resilient-sync only)");
  await fileOf(join(data, "big.bin"), 1024 * MiB);
  const url = nginx.url("/big.bin");
  const contenders: Contender[] = [
    ours((out) => ["--source-url", url, "--destination", join(out, "big.bin")]),
    {
      ...ours((out) => [
        ...["--source-url", url, "--destination", join(out, "big.bin")],
        ...["--checksum-algorithm", "blake3"],
      ]),
      name: "resilient-sync blake3",
      ours: false,
    },
    {
      name: "curl -o",
      needs: { binary: "curl", install: "apt-get install curl" },
      command: (out) => ["curl", "-fsS", "-o", join(out, "big.bin"), url],
    },
    {
      // Not a target: the file's data fsynced as ours is (the folder is not), which shows what
      // this machine's disk charges for the fsync that curl -o alone never pays.
      name: "curl -o, then sync FILE",
      needs: { binary: "curl", install: "apt-get install curl" },
      command: (out) => [
        "sh",
        "-c",
        'curl -fsS -o "$1" "$2" && sync "$1"',
        "sh",
        join(out, "big.bin"),
        url,
      ],
    },
    {
      name: "wget -O",
      needs: { binary: "wget", install: "apt-get install wget" },
      command: (out) => ["wget", "-q", "-O", join(out, "big.bin"), url],
    },
    {
      name: "aria2c -x1",
      needs: { binary: "aria2c", install: "apt-get install aria2" },
      command: (out) => [
        "aria2c",
        "-x1",
        "-q",
        "--allow-overwrite=true",
        "--file-allocation=none",
        "-d",
        out,
        "-o",
        "big.bin",
        url,
      ],
    },
    {
      name: "rclone copyurl",
      needs: { binary: "rclone", install: "apt-get install rclone" },
      command: (out) => ["rclone", "copyurl", "--config", "/dev/null", url, join(out, "big.bin")],
    },
  ];
  for (const c of contenders)
    c.verify = async (out) =>
      (await stat(join(out, "big.bin")).catch(() => undefined))?.size === 1024 * MiB;
  record("W1 1 GiB", contenders, await race(contenders, { benchDir }), "s");

  if (!QUICK) {
    log("W1: 4 GiB, resilient-sync only, for memory");
    await rm(join(data, "big.bin"));
    await fileOf(join(data, "huge.bin"), 4096 * MiB);
    const out = await mkdtemp(join(benchDir, "huge-"));
    const m = await measure([
      process.execPath,
      CLI,
      "--source-url",
      nginx.url("/huge.bin"),
      "--destination",
      join(out, "huge.bin"),
      "--lock-dir",
      join(out, ".locks"),
      "--quiet",
    ]);
    rows.push({
      workload: "W1 4 GiB (memory)",
      contender: "resilient-sync",
      unit: "s",
      value: m.seconds,
      peakRssMiB: m.peakRssMiB,
      ...(m.code ? { note: `exit ${m.code}` } : {}),
    });
    await rm(out, { recursive: true, force: true });
    await rm(join(data, "huge.bin"));
  } else {
    await rm(join(data, "big.bin"));
  }
}

/** `count` files of 16 KiB in `data/<folder>`, served by nginx, and the list of their URLs. */
async function manyFiles(
  data: string,
  nginx: Nginx,
  count = 1000,
  folder = "many",
): Promise<{ list: string; urls: string[] }> {
  await mkdir(join(data, folder), { recursive: true });
  const urls: string[] = [];
  const digits = Math.max(4, String(count - 1).length);
  for (let i = 0; i < count; i += 1) {
    const name = `f${String(i).padStart(digits, "0")}.bin`;
    await writeFile(join(data, folder, name), randomBytes(16 * 1024));
    urls.push(nginx.url(`/${folder}/${name}`));
  }
  const list = join(data, `${folder}.txt`);
  await writeFile(list, `${urls.join("\n")}\n`);
  return { list, urls };
}

async function w2(list: string, benchDir: string) {
  log("W2: 1,000 files of 16 KiB, 8 workers");
  const shell = (script: string) => ["bash", "-c", script];
  const contenders: Contender[] = [
    ours((out) => ["-i", list, "--artifact-root", out, "--max-workers", "8"]),
    leanFloor(list),
    {
      name: "aria2c -j8",
      needs: { binary: "aria2c", install: "apt-get install aria2" },
      command: (out) => [
        "aria2c",
        "-i",
        list,
        "-j8",
        "-q",
        "--allow-overwrite=true",
        "--file-allocation=none",
        "-d",
        out,
      ],
    },
    {
      name: "xargs -P8 curl",
      needs: { binary: "curl", install: "apt-get install curl" },
      command: () => shell(`xargs -P8 -n 125 curl -fsS --remote-name-all < ${list}`),
    },
    {
      name: "curl -Z",
      needs: { binary: "curl", install: "apt-get install curl" },
      command: () => shell(`xargs curl -fsS -Z --parallel-max 8 --remote-name-all < ${list}`),
    },
    {
      name: "wget -i (sequential)",
      needs: { binary: "wget", install: "apt-get install wget" },
      command: (out) => ["wget", "-q", "-i", list, "-P", out],
    },
  ];
  for (const c of contenders)
    c.verify = async (out) =>
      (await readdir(out)).filter((name) => name.endsWith(".bin")).length === 1000;
  // Every run writes into a folder of its own, all removed when the bench ends, so that no run
  // starts just after thousands of files were removed. On ext4 without a journal (this project's
  // machines) the inode allocator skips inodes freed between 1 and ~30 s earlier, which can make
  // a create dearer by the number of such inodes; whether that moved the bench's figures is not
  // settled (docs/performance.md, 2026-12-06, late), and keeping the folders costs nothing.
  const results = await race(contenders, { benchDir, keepOutputs: true });
  record("W2 1,000 × 16 KiB", contenders, results, "files/s", 1000);
}

/**
 * The no-op re-run of `list` by each contender, timed after a first full sync into its folder,
 * recorded as `workload`. At 10,000 files `aria2c --conditional-get` is left out (`withAria`): it
 * fetches every body again (the 1,000-file row shows it), which would cost the bench a minute and
 * tell nothing new.
 */
async function noOpRace(
  list: string,
  benchDir: string,
  workload: string,
  withAria: boolean,
): Promise<Contender[]> {
  const contenders: Contender[] = [
    ours((out) => ["-i", list, "--artifact-root", out, "--max-workers", "8"]),
    leanFloor(list),
    ...(withAria
      ? [
          {
            name: "aria2c --conditional-get",
            needs: { binary: "aria2c", install: "apt-get install aria2" },
            command: (out: string) => [
              "aria2c",
              "-i",
              list,
              "-j8",
              "-q",
              "--conditional-get=true",
              "--allow-overwrite=true",
              "--file-allocation=none",
              "-d",
              out,
            ],
          },
        ]
      : []),
    {
      name: "wget -N",
      needs: { binary: "wget", install: "apt-get install wget" },
      command: (out) => ["wget", "-q", "-N", "-i", list, "-P", out],
    },
  ];
  // First a full sync into each contender's folder; the counted runs are the no-op re-runs.
  const results = await race(contenders, {
    benchDir,
    persistent: true,
    prepare: async (c, out) => {
      await measure(c.command(out), { cwd: out });
    },
  });
  record(workload, contenders, results, "s");
  return contenders;
}

async function w3(nginx: Nginx, list: string, data: string, benchDir: string) {
  log("W3: no-op re-run of W2 (nothing changed)");
  const contenders = await noOpRace(list, benchDir, "W3 no-op re-run", true);

  // Body bytes of one no-op run, then whether a changed file is picked up.
  const changed = join(data, "many", "f0007.bin");
  for (const c of contenders.filter((x) => !available(x))) {
    const out = await mkdtemp(join(benchDir, "w3check-"));
    await measure(c.command(out), { cwd: out });
    const start = await nginx.bytesSent();
    await measure(c.command(out), { cwd: out });
    const noOpBytes = (await nginx.bytesSent()) - start;
    const fresh = randomBytes(16 * 1024);
    await writeFile(changed, fresh);
    // A new mtime, as a rewritten file gets; a minute ahead so that no clock granularity hides it.
    await utimes(changed, new Date(), new Date(Date.now() + 60_000));
    await measure(c.command(out), { cwd: out });
    const got = await readFile(join(out, "f0007.bin")).catch(() => Buffer.alloc(0));
    const row = rows.find((r) => r.workload === "W3 no-op re-run" && r.contender === c.name);
    if (row)
      row.note = `${noOpBytes} body bytes per no-op run; changed file ${sha256(got) === sha256(fresh) ? "picked up" : "MISSED"}`;
    await rm(out, { recursive: true, force: true });
  }
}

/** W3 at 10,000 files: the second W3 target. */
async function w3Large(list: string, benchDir: string) {
  log("W3: no-op re-run of 10,000 files");
  await noOpRace(list, benchDir, "W3 no-op re-run, 10,000 files", false);
}

async function w4(benchDir: string) {
  log("W4: resume — 256 MiB, connection cut after 100 MiB (fault server)");
  const size = 256 * MiB;
  const body = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 4) body.writeUInt32LE((i * 2654435761) >>> 0, i);
  const server = await TestServer.start();
  const expected = sha256(body);
  try {
    const contenders: Array<Contender & { path: string }> = [
      {
        ...ours((out) => [
          "--source-url",
          server.url("/r-ours.bin"),
          "--destination",
          join(out, "r.bin"),
        ]),
        path: "/r-ours.bin",
      },
      {
        name: "curl --retry -C -",
        needs: { binary: "curl", install: "apt-get install curl" },
        path: "/r-curl.bin",
        command: (out) => [
          "curl",
          "-sS",
          "--retry",
          "3",
          "--retry-delay",
          "1",
          "--retry-all-errors",
          "-C",
          "-",
          "-o",
          join(out, "r.bin"),
          server.url("/r-curl.bin"),
        ],
      },
      {
        name: "wget -c",
        needs: { binary: "wget", install: "apt-get install wget" },
        path: "/r-wget.bin",
        command: (out) => [
          "wget",
          "-q",
          "-c",
          "--tries=3",
          "--waitretry=1",
          "-O",
          join(out, "r.bin"),
          server.url("/r-wget.bin"),
        ],
      },
      {
        name: "aria2c -c",
        needs: { binary: "aria2c", install: "apt-get install aria2" },
        path: "/r-aria2.bin",
        command: (out) => [
          "aria2c",
          "-q",
          "-c",
          "--max-tries=3",
          "--retry-wait=1",
          "--allow-overwrite=true",
          "--file-allocation=none",
          "-d",
          out,
          "-o",
          "r.bin",
          server.url("/r-aria2.bin"),
        ],
      },
      {
        name: "rclone copyurl",
        needs: { binary: "rclone", install: "apt-get install rclone" },
        path: "/r-rclone.bin",
        command: (out) => [
          "rclone",
          "copyurl",
          "--config",
          "/dev/null",
          "--retries",
          "3",
          server.url("/r-rclone.bin"),
          join(out, "r.bin"),
        ],
      },
    ];
    for (const c of contenders) {
      const missing = available(c);
      if (missing) {
        rows.push({
          workload: "W4 resume 256 MiB",
          contender: c.name,
          unit: "MiB",
          value: undefined,
          note: missing,
        });
        continue;
      }
      server.route(c.path, { body, script: [{ kind: "reset", afterBytes: 100 * MiB }] });
      const out = await mkdtemp(join(benchDir, "w4-"));
      const m = await measure(c.command(out), { cwd: out });
      const exact =
        sha256(await readFile(join(out, "r.bin")).catch(() => Buffer.alloc(0))) === expected;
      const sent = server.bytesSentFor(c.path) / MiB;
      rows.push({
        workload: "W4 resume 256 MiB",
        contender: c.name,
        unit: "MiB",
        value: sent,
        note: `${m.seconds.toFixed(2)} s incl. retry wait; ${exact ? "file exact" : "FILE WRONG OR MISSING"}; ${server.requestsFor(c.path).length} requests`,
      });
      await rm(out, { recursive: true, force: true });
    }
  } finally {
    await server.close();
  }
}

async function w5(nginx: Nginx, data: string, benchDir: string) {
  log("W5: start-up");
  const tiny = join(data, "tiny.csv");
  await writeFile(tiny, "a,b\n1,2\n");
  await writeFile(join(data, "tiny.bin"), randomBytes(1024));
  const contenders: Contender[] = [
    {
      name: "resilient-sync --version",
      ours: true,
      command: () => [process.execPath, CLI, "--version"],
    },
    {
      ...ours((out) => [nginx.url("/tiny.bin"), "--artifact-root", out]),
      name: "resilient-sync tiny http sync",
      ours: false,
    },
    { name: "node -e 0", command: () => [process.execPath, "-e", "0"] },
  ];
  record("W5 start-up", contenders, await race(contenders, { benchDir }), "s");
  const tinyRun: Contender[] = [
    ours((out) => ["--source-url", tiny, "--destination", join(out, "tiny.csv")]),
  ];
  record("W5 tiny local sync", tinyRun, await race(tinyRun, { benchDir }), "s");
}

async function w6(benchDir: string) {
  const old = process.env.RESILIENT_SYNC_OLD_SCRIPT;
  log("W6: single-pair default run on the bundled sample");
  const root = await mkdtemp(join(benchDir, "w6root-"));
  await writeFile(join(root, "sample.csv"), await readFile(join(ROOT, "sample.csv")));
  const env = { ...process.env, REPO_ROOT: root };
  const contenders: Contender[] = [
    { name: "resilient-sync (default run)", ours: true, command: () => [process.execPath, CLI] },
    ...(old ? [{ name: "old Bash script", command: () => ["bash", old] }] : []),
  ];
  // Each run starts from nothing: the default destination and lock dir are removed first.
  const results = new Map<string, Measurement[]>();
  for (const c of contenders) results.set(c.name, []);
  for (let round = 0; round <= RUNS; round += 1) {
    for (const c of contenders) {
      await rm(join(root, "reports"), { recursive: true, force: true });
      const m = await measure(c.command(root), { cwd: root, env });
      if (round > 0) results.get(c.name)?.push(m);
    }
  }
  record("W6 default run", contenders, results, "s");
  if (!old)
    rows.push({
      workload: "W6 default run",
      contender: "old Bash script",
      unit: "s",
      value: undefined,
      note: "skipped: set RESILIENT_SYNC_OLD_SCRIPT to its path",
    });
}

function table(): string {
  const fmt = (row: Row, v: number | undefined) =>
    v === undefined
      ? "—"
      : row.unit === "files/s"
        ? `${Math.round(v)}`
        : row.unit === "MiB"
          ? v.toFixed(1)
          : v < 0.1
            ? `${(v * 1000).toFixed(1)} ms`
            : `${v.toFixed(3)} s`;
  const lines = [
    "| workload | tool | median | min–max | vs resilient-sync | peak RSS | note |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const row of rows) {
    const unit = row.unit === "files/s" ? " files/s" : row.unit === "MiB" ? " MiB sent" : "";
    const range = row.min === undefined ? "" : `${fmt(row, row.min)}–${fmt(row, row.max)}`;
    const ratio =
      row.ratio === undefined || Number.isNaN(row.ratio) ? "" : `${row.ratio.toFixed(2)}×`;
    const rss = row.peakRssMiB === undefined ? "" : `${row.peakRssMiB.toFixed(0)} MiB`;
    lines.push(
      `| ${row.workload} | ${row.contender} | ${fmt(row, row.value)}${row.value === undefined ? "" : unit} | ${range} | ${ratio} | ${rss} | ${row.note ?? ""} |`,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<number> {
  if (!which("nginx")) {
    log(
      "nginx is missing: it serves the workloads. Install it with: apt-get install nginx-light (see bench/README.md).",
    );
    return 2;
  }
  const benchDir = await mkdtemp(join(tmpdir(), "resilient-sync-bench-"));
  // Measured first, on a quiet file system: it can decide W2 (lib/create-cost.ts).
  const createCost = createCostLine(tmpdir());
  const data = join(benchDir, "data");
  await mkdir(data);
  // nginx's workers run unprivileged: they must be able to read the data.
  await chmod(benchDir, 0o755);
  await chmod(data, 0o755);
  const nginx = await startNginx(data);
  const wants = (id: string) => !ONLY || ONLY.includes(id);
  try {
    if (wants("W1")) await w1(nginx, data, benchDir);
    if (wants("W2") || wants("W3")) {
      const { list } = await manyFiles(data, nginx);
      if (wants("W2")) await w2(list, benchDir);
      if (wants("W3")) await w3(nginx, list, data, benchDir);
    }
    if (wants("W3")) {
      const { list } = await manyFiles(data, nginx, 10_000, "many10k");
      await w3Large(list, benchDir);
      await rm(join(data, "many10k"), { recursive: true, force: true });
    }
    if (wants("W4")) await w4(benchDir);
    if (wants("W5")) await w5(nginx, data, benchDir);
    if (wants("W6")) await w6(benchDir);
    if (wants("W7")) {
      await fileOf(join(data, "seg.bin"), 256 * MiB);
      rows.push(...(await w7(data, "seg.bin", benchDir, CLI, RUNS, log)));
      await rm(join(data, "seg.bin"));
    }
  } finally {
    await nginx.stop();
    await rm(benchDir, { recursive: true, force: true });
  }
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.versions.node}`;
  const load = loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
  const header = `resilient-sync bench, ${new Date().toISOString().slice(0, 10)}, ${machine}, ${RUNS} counted runs after a warm-up, medians; load average at the end ${load}; ${createCost}`;
  if (JSON_OUT)
    process.stdout.write(
      `${JSON.stringify({ header, runs: RUNS, rows, targets: targetsTable(rows) }, null, 2)}\n`,
    );
  else process.stdout.write(`${header}\n\n${table()}\n\nTargets:\n\n${targetsTable(rows)}\n`);
  return 0;
}

process.exitCode = await main();
