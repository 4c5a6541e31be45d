/**
 * Memory figure (issue #4): peak RSS of resilient-sync while it fetches, hashes, fsyncs and
 * commits a large file from a local streaming server. The server generates the body (nothing is
 * held in memory on either side); peak RSS comes from `/usr/bin/time -f %M` when present, else
 * from sampling VmHWM in /proc.
 * Usage: npm run build && node dist/bench/memory.js [sizeGiB ...]   (default: 1 4)
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../cli/main.js", import.meta.url));
const MiB = 1024 * 1024;
const chunk = Buffer.alloc(MiB, 0x5a);

/** Serves `size` bytes at any path, generated as they are sent. */
async function streamingServer(size: number) {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-length": String(size), etag: `"big-${size}"` });
    let left = size;
    const pump = () => {
      while (left > 0) {
        const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= piece.length;
        if (!res.write(piece)) return void res.once("drain", pump);
      }
      res.end();
    };
    pump();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/big.bin` };
}

async function peakRss(
  args: string[],
): Promise<{ peakMiB: number; seconds: number; code: number | null }> {
  const useTime = existsSync("/usr/bin/time");
  const started = performance.now();
  const child = useTime
    ? spawn("/usr/bin/time", ["-f", "%M", process.execPath, CLI, ...args], {
        stdio: ["ignore", "ignore", "pipe"],
      })
    : spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c) => {
    stderr += c;
  });
  let sampledKiB = 0;
  const sampler = useTime
    ? undefined
    : setInterval(async () => {
        const status = await readFile(`/proc/${child.pid}/status`, "utf8").catch(() => "");
        const kib = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
        sampledKiB = Math.max(sampledKiB, kib);
      }, 50);
  const [code] = (await once(child, "close")) as [number | null];
  clearInterval(sampler);
  const kib = useTime ? Number(stderr.trim().split("\n").at(-1)) : sampledKiB;
  return {
    peakMiB: +(kib / 1024).toFixed(1),
    seconds: +((performance.now() - started) / 1000).toFixed(2),
    code,
  };
}

const sizes = (process.argv.slice(2).length ? process.argv.slice(2) : ["1", "4"]).map(Number);
for (const gib of sizes) {
  const size = gib * 1024 * MiB;
  const { server, url } = await streamingServer(size);
  const dir = await mkdtemp(join(tmpdir(), "resilient-sync-memory-"));
  try {
    const run = await peakRss([
      "--source-url",
      url,
      "--destination",
      join(dir, "big.bin"),
      "--lock-dir",
      join(dir, "locks"),
      "--quiet",
    ]);
    console.log(
      JSON.stringify({
        size_gib: gib,
        exit_code: run.code,
        peak_rss_mib: run.peakMiB,
        seconds: run.seconds,
        mib_per_s: Math.round(size / MiB / run.seconds),
      }),
    );
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
