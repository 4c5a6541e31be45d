/**
 * What creating a file costs in the folder a bench works in: the machine's own figure, printed
 * with the load, because it weighs on the many-small-files workloads. On the machine these
 * benches were tuned on, one ext4 file system made a new file in 12–17 µs in some folders and in
 * 50–370 µs of kernel time in others (under /tmp and /var/tmp, whose block groups years of test
 * runs had churned), and a folder's figure changed within the hour. Every contender pays it once
 * per file it creates; resilient-sync creates two per file (the part and the lock), aria2c one.
 * `TMPDIR` picks the folder.
 */
import { closeSync, constants, mkdtempSync, openSync, rmSync } from "node:fs";
import { join } from "node:path";

const { O_CREAT, O_EXCL, O_WRONLY } = constants;

/** Median microseconds per exclusive create of an empty file in a new folder under `dir`. */
export function createCostMicros(dir: string, files = 300, rounds = 3): number {
  const perRound: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const folder = mkdtempSync(join(dir, "create-cost-"));
    try {
      const started = performance.now();
      for (let i = 0; i < files; i += 1) {
        closeSync(openSync(join(folder, `f${i}`), O_CREAT | O_EXCL | O_WRONLY, 0o600));
      }
      perRound.push(((performance.now() - started) * 1000) / files);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }
  perRound.sort((a, b) => a - b);
  return perRound[Math.floor(perRound.length / 2)] as number;
}

/** `creating a file in DIR: N µs`, for a bench's header. */
export function createCostLine(dir: string): string {
  return `creating a file in ${dir}: ${createCostMicros(dir).toFixed(0)} µs`;
}
