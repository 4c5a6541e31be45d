/**
 * W8: 64 MiB over a fast link that loses 1 % of its packets, resilient-sync against `curl -o`.
 * The link is the loopback of a network namespace of our own (MTU 1500, 1 % of incoming packets
 * dropped at random by iptables' `statistic` match), so
 * nginx, curl and resilient-sync all see the same losses and nothing outside is touched. TCP
 * recovers the losses for everyone; what differs is what each tool does with the bytes (the cost
 * is CPU on the receive path). Runs alternate (curl, ours, ours, curl …); medians are printed with
 * the load average. Needs root, `ip` (iproute2), iptables, nginx and curl.
 *
 * Two more rows, alternated with the others, give the floor a Node program cannot go below:
 * `node -e 0` (Node's own start-up) and resilient-sync fetching a 1 KiB file (a whole run's fixed
 * cost: start-up, state, fsync, rename) — their difference from the big transfer is what the
 * receive path itself costs.
 *
 *   node dist/bench/lossy.js [--runs N] [--loss PERCENT] [--size-mib N] [--checksum-algorithm A] [--json]
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { measure, median, which } from "./lib/measure.js";
import { startNginx } from "./lib/nginx.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLI = join(ROOT, "dist", "cli", "main.js");
const argv = process.argv.slice(2);
const option = (name: string) => {
  const index = argv.indexOf(name);
  return index >= 0 ? argv[index + 1] : undefined;
};
const RUNS = Math.min(Number(option("--runs") ?? 7), 50);
const LOSS = option("--loss") ?? "1%";
const SIZE_MIB = Math.min(Math.max(Number(option("--size-mib") ?? 64), 1), 4096);
const SIZE = SIZE_MIB * 1024 * 1024;
const ALGORITHM = option("--checksum-algorithm") ?? "sha256";
const INSIDE = "RESILIENT_SYNC_BENCH_NETNS";

/** Outside: makes the namespace and the lossy link, runs this file inside it, cleans up. */
function outside(): number {
  if (process.getuid?.() !== 0) return skip("needs root (network namespaces)");
  for (const binary of ["ip", "iptables", "nginx", "curl"])
    if (!which(binary)) return skip(`${binary} is not installed`);
  const name = `rs-bench-${randomBytes(3).toString("hex")}`;
  const inNs = (...args: string[]) => execFileSync("ip", ["netns", "exec", name, ...args]);
  execFileSync("ip", ["netns", "add", name]);
  try {
    inNs("ip", "link", "set", "lo", "mtu", "1500");
    inNs("ip", "link", "set", "lo", "up");
    // netem is the usual tool, but its kernel module is not everywhere (not in this sandbox);
    // iptables' statistic match drops the same share of packets at random.
    const probability = String(Number.parseFloat(LOSS) / 100);
    inNs(
      ..."iptables -A INPUT -m statistic --mode random --probability".split(" "),
      probability,
      "-j",
      "DROP",
    );
    const child = spawnSync(
      "ip",
      ["netns", "exec", name, process.execPath, fileURLToPath(import.meta.url), ...argv],
      { stdio: "inherit", env: { ...process.env, [INSIDE]: "1" } },
    );
    return child.status ?? 1;
  } finally {
    execFileSync("ip", ["netns", "del", name]);
  }
}

function skip(reason: string): number {
  console.log(`W8 lossy link: skipped (${reason})`);
  return 0;
}

/** Inside the namespace: nginx serves the file; curl and resilient-sync alternate. */
async function inside(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "resilient-sync-lossy-"));
  const www = join(dir, "www");
  execFileSync("mkdir", ["-p", www]);
  await writeFile(join(www, "f.bin"), randomBytes(SIZE), { mode: 0o644 });
  await writeFile(join(www, "tiny.bin"), randomBytes(1024), { mode: 0o644 });
  await chmod(dir, 0o755); // nginx's worker runs as nobody when started by root
  const nginx = await startNginx(www);
  const ours = (url: string) => (out: string) => [
    process.execPath,
    CLI,
    url,
    "--artifact-root",
    out,
    "--lock-dir",
    join(out, ".locks"),
    "--no-progress",
    "--log-level",
    "error",
    "--checksum-algorithm",
    ALGORITHM,
  ];
  const contenders = {
    "curl -o": (out: string) => ["curl", "-fsS", "-o", join(out, "f.bin"), nginx.url("/f.bin")],
    "resilient-sync": ours(nginx.url("/f.bin")),
    "resilient-sync 1 KiB": ours(nginx.url("/tiny.bin")),
    "node -e 0": () => [process.execPath, "-e", "0"],
  } as const;
  const times: Record<string, number[]> = Object.fromEntries(
    Object.keys(contenders).map((name) => [name, []]),
  );
  const load = loadavg()[0]?.toFixed(2);
  try {
    const order = Object.keys(contenders) as (keyof typeof contenders)[];
    for (let run = 0; run <= RUNS; run += 1) {
      for (const name of run % 2 ? [...order].reverse() : order) {
        const out = await mkdtemp(join(dir, "out-"));
        const result = await measure(contenders[name](out));
        if (result.code !== 0) throw new Error(`${name} failed: ${result.stderr.slice(0, 500)}`);
        if (run > 0) times[name]?.push(result.seconds); // run 0 warms up
        await rm(out, { recursive: true, force: true });
      }
    }
  } finally {
    await nginx.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const curl = median(times["curl -o"] ?? []);
  const big = median(times["resilient-sync"] ?? []);
  const fixed = median(times["resilient-sync 1 KiB"] ?? []);
  const node = median(times["node -e 0"] ?? []);
  const row = {
    workload: `W8 ${SIZE_MIB} MiB, ${LOSS} loss`,
    curl,
    ours: big,
    ratio: big / curl,
    ourFixedCost: fixed,
    nodeStartup: node,
    // No Node program can beat Node's start-up plus curl's own transfer.
    floorRatio: (node + curl) / curl,
    receivePathRatio: (big - fixed) / curl,
    load,
    runs: RUNS,
  };
  if (argv.includes("--json")) console.log(JSON.stringify(row));
  else {
    const s = (seconds: number) => `${seconds.toFixed(3)} s`;
    console.log(
      [
        `W8, ${SIZE_MIB} MiB over a link losing ${LOSS}, ${ALGORITHM}, medians of ${RUNS} alternating runs, load ${load}:`,
        "",
        "| curl -o | resilient-sync | ratio (target ≤ 1.5×) | resilient-sync 1 KiB | node -e 0 | floor: (node -e 0 + curl) ÷ curl | (ours − ours 1 KiB) ÷ curl |",
        "|---|---|---|---|---|---|---|",
        `| ${s(curl)} | ${s(big)} | ${row.ratio.toFixed(2)}× | ${s(fixed)} | ${s(node)} | ${row.floorRatio.toFixed(2)}× | ${row.receivePathRatio.toFixed(2)}× |`,
      ].join("\n"),
    );
  }
}

if (process.env[INSIDE]) await inside();
else process.exitCode = outside();
