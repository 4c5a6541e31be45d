/**
 * Resume figure (issue #3, bench W4): a 256 MiB file whose connection is reset after 100 MiB is
 * fetched in one run; prints the bytes the server sent, the time, and whether the result is exact.
 * Usage: npm run build && node dist/bench/resume.js [sizeMiB] [cutMiB]
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../test/helpers/cli.js";
import { sha256, TestServer } from "../test/helpers/server.js";

const MiB = 1024 * 1024;
const sizeMiB = Number(process.argv[2] ?? 256);
const cutMiB = Number(process.argv[3] ?? 100);

const body = Buffer.allocUnsafe(sizeMiB * MiB);
for (let i = 0; i < body.length; i += 4) body.writeUInt32LE((i * 2654435761) >>> 0, i);

const server = await TestServer.start();
const dir = await mkdtemp(join(tmpdir(), "resilient-sync-resume-"));
try {
  server.route("/big.bin", { body, script: [{ kind: "reset", afterBytes: cutMiB * MiB }] });
  const started = performance.now();
  const result = await runCli(
    [
      "--source-url",
      server.url("/big.bin"),
      "--destination",
      join(dir, "big.bin"),
      "--lock-dir",
      join(dir, "locks"),
    ],
    { env: { RESILIENT_SYNC_DELAY_SCALE: "1" } },
  );
  const seconds = (performance.now() - started) / 1000;
  const exact = result.code === 0 && sha256(await readFile(join(dir, "big.bin"))) === sha256(body);
  const sent = server.bytesSentFor("/big.bin");
  const resumedFrom = result.logs.find(
    (line) => line.message === "download successful",
  )?.resumed_from;
  console.log(
    JSON.stringify({
      size_mib: sizeMiB,
      cut_after_mib: cutMiB,
      exit_code: result.code,
      exact,
      requests: server.requestsFor("/big.bin").length,
      server_sent_mib: +(sent / MiB).toFixed(2),
      overhead_mib: +((sent - body.length) / MiB).toFixed(2),
      resumed_from_mib: typeof resumedFrom === "number" ? +(resumedFrom / MiB).toFixed(2) : null,
      seconds_including_1s_backoff: +seconds.toFixed(2),
    }),
  );
} finally {
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
