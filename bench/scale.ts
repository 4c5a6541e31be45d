/**
 * Scale: how time and peak memory grow with the number of files, for a directory source and for
 * an input list (`-i FILE`), planned and checked with `--dry-run --json`, and synced for real
 * at the smaller sizes: a directory of local files, and an input list of URLs served by nginx
 * (8 workers, as W2). Files are one byte each, 1,000 to a folder, made once in a temp dir.
 *
 * Usage: npm run build && node dist/bench/scale.js [--sizes 125000,250000,500000,1000000]
 *          [--sync-sizes 25000,50000,100000] [--http-sizes 1000,100000] [--dir DIR]
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { measure } from "./lib/measure.js";
import { startNginx } from "./lib/nginx.js";

const CLI = fileURLToPath(new URL("../cli/main.js", import.meta.url));
const PER_FOLDER = 1000;

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "125000,250000,500000,1000000" },
    "sync-sizes": { type: "string", default: "25000,50000,100000" },
    "http-sizes": { type: "string", default: "1000,100000" },
    dir: { type: "string" },
  },
});
const sizesOf = (text: string) => text.split(",").filter(Boolean).map(Number);
const sizes = sizesOf(values.sizes);
const syncSizes = sizesOf(values["sync-sizes"]);
const httpSizes = sizesOf(values["http-sizes"]);
const largest = Math.max(...sizes, ...syncSizes, ...httpSizes);
const uneven = [...sizes, ...syncSizes, ...httpSizes].find((n) => !(n > 0 && n % PER_FOLDER === 0));
if (uneven !== undefined) {
  process.stderr.write(
    `scale: sizes are whole thousands of files (files are 1,000 to a folder); got ${uneven}\n`,
  );
  process.exit(64);
}

const work = values.dir ?? (await mkdtemp(join(tmpdir(), "resilient-sync-scale-")));
const src = join(work, "src");
/** `src/dNNNN/fNNNN-NNN`: names unique across folders, so a flat input list never collides. */
function makeFiles(count: number): void {
  for (let d = 0; d < count / PER_FOLDER; d += 1) {
    const folder = join(src, `d${d}`);
    mkdirSync(folder, { recursive: true });
    for (let f = 0; f < PER_FOLDER; f += 1) writeFileSync(join(folder, `f${d}-${f}`), "x");
  }
}
const folders = (count: number) =>
  Array.from({ length: count / PER_FOLDER }, (_, d) => join(src, `d${d}`));

interface Row {
  input: string;
  mode: string;
  files: number;
  seconds: number;
  rssMiB: number | undefined;
}
const rows: Row[] = [];

async function run(input: string, mode: string, files: number, args: string[]): Promise<void> {
  const out = join(work, `out-${input}-${mode}-${files}`);
  const locks = join(work, `locks-${input}-${mode}-${files}`);
  const extra = mode === "dry-run" ? ["--dry-run"] : [];
  const m = await measure([
    process.execPath,
    CLI,
    ...args,
    "--artifact-root",
    out,
    "--lock-dir",
    locks,
    "--json",
    "--quiet",
    ...extra,
  ]);
  if (m.code !== 0)
    throw new Error(`${input} ${mode} ${files}: exit ${m.code}: ${m.stderr.slice(0, 500)}`);
  rows.push({ input, mode, files, seconds: m.seconds, rssMiB: m.peakRssMiB });
  process.stderr.write(
    `${input} ${mode} ${files}: ${m.seconds.toFixed(1)} s, ${(files / m.seconds).toFixed(0)} files/s, peak RSS ${m.peakRssMiB?.toFixed(0)} MiB\n`,
  );
  await rm(out, { recursive: true, force: true });
  await rm(locks, { recursive: true, force: true });
}

process.stderr.write(`making ${largest} files in ${src} …\n`);
// A failed run removes its files too (a million of them otherwise stay in the temp dir).
process.on("exit", () => {
  if (!values.dir) rmSync(work, { recursive: true, force: true });
});
makeFiles(largest);
const load = loadavg()
  .map((x) => x.toFixed(2))
  .join(" ");
for (const files of sizes) {
  await run("directory", "dry-run", files, folders(files));
  const list = join(work, `list-${files}.txt`);
  await writeFile(
    list,
    folders(files)
      .flatMap((folder, d) =>
        Array.from({ length: PER_FOLDER }, (_, f) => `${join(folder, `f${d}-${f}`)}\n`),
      )
      .join(""),
  );
  await run("input list", "dry-run", files, ["-i", list]);
}
for (const files of syncSizes) await run("directory", "sync", files, folders(files));
if (httpSizes.length > 0) {
  // nginx's workers run as an unprivileged user when the bench runs as root: mkdtemp's 0700 would
  // answer 403.
  await chmod(work, 0o755);
  const nginx = await startNginx(src);
  try {
    for (const files of httpSizes) {
      const list = join(work, `urls-${files}.txt`);
      const urls: string[] = [];
      for (let d = 0; d < files / PER_FOLDER; d += 1)
        for (let f = 0; f < PER_FOLDER; f += 1) urls.push(`${nginx.url(`/d${d}/f${d}-${f}`)}\n`);
      await writeFile(list, urls.join(""));
      await run("URL list (nginx)", "sync", files, ["-i", list, "--max-workers", "8"]);
    }
  } finally {
    await nginx.stop();
  }
}

const perFile = (row: Row) => ((row.seconds / row.files) * 1e6).toFixed(0);
const perFileKiB = (row: Row) =>
  row.rssMiB === undefined ? "" : ((row.rssMiB * 1024) / row.files).toFixed(2);
process.stdout.write(`Load average at the start: ${load}\n\n`);
process.stdout.write(
  "| input | mode | files | wall s | files/s | µs per file | peak RSS MiB | KiB per file |\n|---|---|---:|---:|---:|---:|---:|---:|\n",
);
for (const row of rows) {
  process.stdout.write(
    `| ${row.input} | ${row.mode} | ${row.files.toLocaleString("en")} | ${row.seconds.toFixed(1)} | ${(row.files / row.seconds).toFixed(0)} | ${perFile(row)} | ${row.rssMiB?.toFixed(0) ?? ""} | ${perFileKiB(row)} |\n`,
  );
}
