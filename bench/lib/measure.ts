/** Runs a command and measures wall time and peak RSS (via /usr/bin/time -f %M when present). */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";

export interface Measurement {
  seconds: number;
  peakRssMiB: number | undefined;
  code: number | null;
  stderr: string;
}

const TIME = "/usr/bin/time";

export async function measure(
  command: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Measurement> {
  const useTime = existsSync(TIME);
  const argv = useTime ? [TIME, "-f", "@@rss %M", ...command] : command;
  const started = performance.now();
  const child = spawn(argv[0] as string, argv.slice(1), {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  const seconds = (performance.now() - started) / 1000;
  const rss = /@@rss (\d+)/.exec(stderr);
  return {
    seconds,
    peakRssMiB: rss ? Number(rss[1]) / 1024 : undefined,
    code,
    stderr: stderr.replace(/@@rss \d+\n?/, ""),
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function which(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(`${dir}/${binary}`)) return `${dir}/${binary}`;
  }
  return undefined;
}
