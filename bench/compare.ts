/**
 * Before/after figures for the http download path: builds of the CLI compared with each other,
 * interleaved run by run (A B C, then C B A …), on one nginx.
 *
 *   node dist/bench/compare.js [--runs N] [--mib 1024] [--files 1000] [--only tiny,version,big,many,noop]
 *     [--checksum-algorithm A] CLI…
 *
 * Each CLI is a path to a `main.js` (say, this build's and a copy of an older `dist/`).
 * - tiny: a 1 KiB file synced into a fresh folder, against `node -e 0` (start-up).
 * - version: `--version`, against `node -e 0` (start-up alone; not run unless asked).
 * - big: one file of `--mib` MiB (SHA-256 while streaming, or `--checksum-algorithm`; fsync,
 *   rename), against `curl -o`.
 * - many: 1,000 files of 16 KiB, 8 at once (W2), each run into a fresh folder, against
 *   `aria2c -j8`; `--files N` for another count.
 * - noop: the no-op re-run of those files (W3), each contender in a folder of its own synced
 *   once before the counted runs, against `wget -N`.
 * Each round runs the contenders in a rotated order (A B C, B C A, C A B …), so that every one
 * runs in every position equally often: what a run leaves to the next (freed inodes, a warm
 * cache) falls on each alike. Prints medians and min–max of wall time, the median of each
 * contender's time over the first one's in the same round, median and max of peak RSS, and the
 * load average before and after each workload.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createCostLine } from "./lib/create-cost.js";
import { type Measurement, measure, median, which } from "./lib/measure.js";
import { startNginx } from "./lib/nginx.js";

const argv = process.argv.slice(2);
const option = (name: string) => {
  const index = argv.indexOf(name);
  if (index < 0) return undefined;
  const value = argv[index + 1];
  argv.splice(index, 2);
  return value;
};
const RUNS = Number(option("--runs") ?? 7);
const MIB = Number(option("--mib") ?? 1024);
const ONLY = (option("--only") ?? "tiny,big").split(",");
const FILES = Number(option("--files") ?? 1000);
/** Passed to every build's tiny and big runs; the tool's default (SHA-256) when not given. */
const ALGORITHM = option("--checksum-algorithm");
const CLIS = argv.map((cli) => resolve(cli));
const MiB = 1024 * 1024;

interface Contender {
  name: string;
  command(out: string): string[];
}

interface RaceOptions {
  /** Keep each contender's folder between runs (no-op re-runs), made once by `prepare`. */
  persistent?: boolean;
  prepare?: (c: Contender, out: string) => Promise<void>;
  /** Files per run: rates are printed as files/s too. */
  files?: number;
}

const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(" ");

async function fileOf(path: string, size: number): Promise<void> {
  const block = randomBytes(MiB);
  const stream = createWriteStream(path);
  for (let written = 0; written < size; written += block.length) {
    if (!stream.write(written + block.length <= size ? block : block.subarray(0, size - written)))
      await new Promise<void>((resolve) => stream.once("drain", () => resolve()));
  }
  await new Promise<void>((resolve) => stream.end(() => resolve()));
}

async function race(
  title: string,
  contenders: Contender[],
  benchDir: string,
  options: RaceOptions = {},
): Promise<void> {
  const before = load();
  const results = new Map<string, Measurement[]>(contenders.map((c) => [c.name, []]));
  const folderOf = (index: number) => join(benchDir, options.persistent ? `out-${index}` : "out");
  if (options.persistent) {
    for (const [index, c] of contenders.entries()) {
      await rm(folderOf(index), { recursive: true, force: true });
      await mkdir(folderOf(index), { recursive: true });
      await options.prepare?.(c, folderOf(index));
    }
  }
  for (let round = 0; round <= RUNS; round += 1) {
    const shift = round % contenders.length;
    for (const c of [...contenders.slice(shift), ...contenders.slice(0, shift)]) {
      const out = folderOf(contenders.indexOf(c));
      if (!options.persistent) {
        await rm(out, { recursive: true, force: true });
        await mkdir(out, { recursive: true });
      }
      const m = await measure(c.command(out), { cwd: out });
      if (m.code !== 0) process.stderr.write(`${c.name} exited ${m.code}: ${m.stderr}\n`);
      if (round > 0) results.get(c.name)?.push(m);
    }
  }
  console.log(`\n${title} (${RUNS} runs each after a warm-up; load ${before} → ${load()})`);
  console.log("| contender | median | min–max | ÷ first, same round | RSS median | RSS max |");
  console.log("|---|---|---|---|---|---|");
  const first = results.get(contenders[0]?.name ?? "") ?? [];
  for (const c of contenders) {
    const ms = results.get(c.name) ?? [];
    const s = ms.map((m) => m.seconds);
    const rss = ms.map((m) => m.peakRssMiB ?? 0);
    const ratio = median(ms.map((m, i) => m.seconds / (first[i]?.seconds ?? Number.NaN)));
    const rate = options.files ? ` (${(options.files / median(s)).toFixed(0)} files/s)` : "";
    console.log(
      `| ${c.name} | ${median(s).toFixed(3)} s${rate} | ${Math.min(...s).toFixed(3)}–${Math.max(...s).toFixed(3)} | ${ratio.toFixed(2)}× | ${median(rss).toFixed(0)} MiB | ${Math.max(...rss).toFixed(0)} MiB |`,
    );
  }
}

const benchDir = await mkdtemp(join(tmpdir(), "resilient-sync-compare-"));
console.log(createCostLine(tmpdir()));
const data = join(benchDir, "data");
await mkdir(data);
// nginx's worker runs as nobody when we are root.
await chmod(benchDir, 0o755);
await chmod(data, 0o755);
const nginx = await startNginx(data);
try {
  const ours = (url: string) =>
    CLIS.map(
      (cli, index): Contender => ({
        name: `${index}: ${cli}`,
        command: (out) => [
          process.execPath,
          cli,
          "--source-url",
          url,
          "--destination",
          join(out, "file.bin"),
          "--lock-dir",
          join(out, ".locks"),
          "--quiet",
          ...(ALGORITHM ? ["--checksum-algorithm", ALGORITHM] : []),
        ],
      }),
    );
  if (ONLY.includes("tiny")) {
    await writeFile(join(data, "tiny.bin"), randomBytes(1024));
    await race(
      "tiny http sync (1 KiB)",
      [
        { name: "node -e 0", command: () => [process.execPath, "-e", "0"] },
        ...ours(nginx.url("/tiny.bin")),
      ],
      benchDir,
    );
  }
  if (ONLY.includes("version")) {
    // Start-up alone: what every invocation pays before it does anything (target ≤ 1.5×).
    await race(
      "--version",
      [
        { name: "node -e 0", command: () => [process.execPath, "-e", "0"] },
        ...CLIS.map(
          (cli, index): Contender => ({
            name: `${index}: ${cli}`,
            command: () => [process.execPath, cli, "--version"],
          }),
        ),
      ],
      benchDir,
    );
  }
  if (ONLY.includes("many") || ONLY.includes("noop")) {
    await mkdir(join(data, "many"));
    await chmod(join(data, "many"), 0o755);
    const urls: string[] = [];
    for (let i = 0; i < FILES; i += 1) {
      const name = `f${String(i).padStart(6, "0")}.bin`;
      await writeFile(join(data, "many", name), randomBytes(16 * 1024));
      urls.push(nginx.url(`/many/${name}`));
    }
    const list = join(benchDir, "many.txt");
    await writeFile(list, `${urls.join("\n")}\n`);
    const batch = CLIS.map(
      (cli, index): Contender => ({
        name: `${index}: ${cli}`,
        command: (out) => [
          process.execPath,
          cli,
          "-i",
          list,
          "--artifact-root",
          out,
          "--lock-dir",
          join(out, ".locks"),
          "--max-workers",
          "8",
        ],
      }),
    );
    if (ONLY.includes("many") && which("aria2c")) {
      const aria: Contender = {
        name: "aria2c -j8",
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
      };
      await race(`${FILES} × 16 KiB, 8 at once (W2)`, [...batch, aria], benchDir, {
        files: FILES,
      });
    }
    if (ONLY.includes("noop") && which("wget")) {
      const wget: Contender = {
        name: "wget -N",
        command: (out) => ["wget", "-q", "-N", "-i", list, "-P", out],
      };
      await race(`no-op re-run of ${FILES} files (W3)`, [...batch, wget], benchDir, {
        persistent: true,
        prepare: async (c, out) => {
          await measure(c.command(out), { cwd: out });
        },
      });
    }
  }
  if (ONLY.includes("big")) {
    await fileOf(join(data, "big.bin"), MIB * MiB);
    const curl: Contender[] = which("curl")
      ? [
          {
            name: "curl -o",
            command: (out) => ["curl", "-fsS", "-o", join(out, "file.bin"), nginx.url("/big.bin")],
          },
        ]
      : [];
    await race(`${MIB} MiB from nginx`, [...curl, ...ours(nginx.url("/big.bin"))], benchDir);
  }
} finally {
  await nginx.stop();
  await rm(benchDir, { recursive: true, force: true });
}
