/**
 * W7 of `npm run bench`: segmented download. 256 MiB from an nginx that caps every connection
 * at 24 MiB/s (`limit_rate 24m`, about the 205 Mbit/s one connection carries on a 100 ms path),
 * resilient-sync `--split 1` and `--split 8` against `aria2c -x8 -s8 -k1M`, alternating, each
 * run into a fresh folder; per run the body bytes nginx sent (its access log) and whether the
 * file is byte-exact.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { type Measurement, measure, median, which } from "./lib/measure.js";
import { startNginx } from "./lib/nginx.js";

const MiB = 1024 * 1024;
const SIZE = 256 * MiB;
/** Per connection, in nginx's units (MiB/s). */
const RATE = "24m";

/** A row of the bench's table (the shape `run.ts` prints). */
export interface SegmentedRow {
  workload: string;
  contender: string;
  unit: "s";
  value: number | undefined;
  min?: number;
  max?: number;
  ratio?: number;
  peakRssMiB?: number | undefined;
  note?: string;
}

interface Contender {
  name: string;
  /** The one the ratios are taken against. */
  ours?: boolean;
  needs?: string;
  command(url: string, out: string): string[];
}

async function sha256Of(path: string): Promise<string | undefined> {
  const hash = createHash("sha256");
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch {
    return undefined;
  }
  return hash.digest("hex");
}

/**
 * Runs W7 on `file` (256 MiB, already written in `data`, which nginx may read) and returns its
 * rows. `cli`: resilient-sync's entry point; `runs`: counted runs after one warm-up.
 */
export async function w7(
  data: string,
  file: string,
  benchDir: string,
  cli: string,
  runs: number,
  log: (text: string) => void,
): Promise<SegmentedRow[]> {
  const workload = `W7 split 256 MiB @ ${RATE}/conn`;
  const load = loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
  log(`W7: segmented download, 256 MiB, nginx limit_rate ${RATE} per connection (load ${load})`);
  const ours = (split: number): Contender => ({
    name: `resilient-sync --split ${split}`,
    ...(split === 8 ? { ours: true } : {}),
    command: (url, out) => [
      process.execPath,
      cli,
      "--source-url",
      url,
      "--destination",
      join(out, "seg.bin"),
      "--lock-dir",
      join(out, ".locks"),
      "--split",
      String(split),
      "--quiet",
    ],
  });
  const contenders: Contender[] = [
    ours(1),
    ours(8),
    {
      name: "aria2c -x8 -s8 -k1M",
      needs: "aria2c",
      command: (url, out) => [
        "aria2c",
        "-x8",
        "-s8",
        "-k1M",
        "-q",
        "--allow-overwrite=true",
        "--file-allocation=none",
        "-d",
        out,
        "-o",
        "seg.bin",
        url,
      ],
    },
  ];
  const expected = await sha256Of(join(data, file));
  const nginx = await startNginx(data, "nginx", { server: `limit_rate ${RATE};` });
  const live = contenders.filter((c) => !c.needs || which(c.needs));
  const results = new Map<string, Array<Measurement & { extra: number; exact: boolean }>>();
  for (const c of live) results.set(c.name, []);
  try {
    for (let round = 0; round <= runs; round += 1) {
      for (const c of round % 2 === 0 ? live : [...live].reverse()) {
        const out = await mkdtemp(join(benchDir, "w7-"));
        const before = await nginx.bytesSent();
        const m = await measure(c.command(nginx.url(`/${file}`), out), { cwd: out });
        const sent = (await nginx.bytesSent()) - before;
        const exact = (await sha256Of(join(out, "seg.bin"))) === expected;
        if (m.code !== 0) log(`  ${c.name} exited ${m.code}: ${m.stderr.slice(0, 300)}`);
        log(
          `  ${c.name}: ${m.seconds.toFixed(2)} s, ${(((sent - SIZE) / SIZE) * 100).toFixed(2)} % extra bytes, ${exact ? "exact" : "WRONG"}${round === 0 ? " (warm-up)" : ""}`,
        );
        if (round > 0) results.get(c.name)?.push({ ...m, extra: sent - SIZE, exact });
        await rm(out, { recursive: true, force: true });
      }
    }
  } finally {
    await nginx.stop();
  }

  const oursMedian = median(
    results.get(contenders.find((c) => c.ours)?.name ?? "")?.map((m) => m.seconds) ?? [],
  );
  return contenders.map((c): SegmentedRow => {
    const ms = results.get(c.name);
    if (!ms)
      return {
        workload,
        contender: c.name,
        unit: "s",
        value: undefined,
        note: `not installed (apt-get install ${c.needs})`,
      };
    const seconds = ms.map((m) => m.seconds);
    const med = median(seconds);
    const extras = ms.map((m) => (m.extra / SIZE) * 100);
    const wrong = ms.filter((m) => m.code !== 0 || !m.exact).length;
    return {
      workload,
      contender: c.name,
      unit: "s",
      value: med,
      min: Math.min(...seconds),
      max: Math.max(...seconds),
      ...(c.ours ? {} : { ratio: med / oursMedian }),
      peakRssMiB: Math.max(...ms.map((m) => m.peakRssMiB ?? 0)) || undefined,
      note: `${(SIZE / MiB / med).toFixed(0)} MiB/s; extra bytes median ${median(extras).toFixed(2)} %, max ${Math.max(...extras).toFixed(2)} %; ${ms.length - wrong}/${ms.length} byte-exact; load at start ${load}`,
    };
  });
}
