/**
 * Outages, made for real: the CLI and a paced origin run in a network namespace of the test's
 * own, and iptables cuts the link between them mid-transfer (connects then fail at once with
 * EHOSTUNREACH; the open connection's packets vanish) and later restores it.
 *
 * npm test cuts for 15 s with `--timeout 2 --max-retries 3` (the stall shows at once, and the
 * old rule — a budget of attempts with a growing backoff — gave up after at most 7 s of it);
 * `npm run test:chaos`
 * sets OUTAGE_SECONDS=60, OUTAGE_SIZE_MIB=256, OUTAGE_RATE_MIB=2.5 (20 Mbit/s) and
 * OUTAGE_DEFAULTS=1: the issue's own case, with default options only.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { CliProcess, type LogLine, runCli, singlePair } from "../helpers/cli.js";
import { Netns, netnsUnavailable, Reporter } from "../helpers/netns.js";
import { bytes, sha256 } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const ORIGIN = fileURLToPath(new URL("../helpers/paced-origin.js", import.meta.url));
const MiB = 1 << 20;
const outageMs = Number(process.env.OUTAGE_SECONDS ?? 15) * 1000;
const size = Number(process.env.OUTAGE_SIZE_MIB ?? 16) * MiB;
const rate = Number(process.env.OUTAGE_RATE_MIB ?? 4) * MiB;
const defaults = process.env.OUTAGE_DEFAULTS === "1";
/** Without defaults, a stalled body shows after 2 s instead of 30, and 3 attempts count. */
const maxRetries = defaults ? 5 : 3;
const stallArgs = defaults ? [] : ["--timeout", "2", "--max-retries", String(maxRetries)];
/** Real waits: the point is how long the tool waits between attempts. */
const env = { RESILIENT_SYNC_DELAY_SCALE: "1" };
const skip = netnsUnavailable();

const named = (logs: LogLine[], message: string) => logs.filter((l) => l.message === message);
const unreachable = (line: LogLine) =>
  line.message === "download failed" && String(line.reason).includes("EHOSTUNREACH");

/** A namespace with the paced origin running in it; `port` once it listens. */
async function originInNamespace(t: import("node:test").TestContext) {
  const ns = new Netns();
  const origin = new Reporter([
    ...ns.wrapper,
    process.execPath,
    ORIGIN,
    String(size),
    String(rate),
  ]);
  t.after(async () => {
    await origin.stop();
    ns.close();
  });
  const port = Number((await origin.waitFor((line) => "listening" in line)).listening);
  return { ns, origin, port, url: `http://127.0.0.1:${port}/data.bin` };
}

describe("outages", { skip, timeout: 30 * 60_000 }, () => {
  test("an outage of an origin that was answering is waited out, and the transfer resumes", async (t) => {
    const dir = await tempDir(t);
    const { ns, origin, port, url } = await originInNamespace(t);
    const args = singlePair(url, dir, "out/data.bin", ...stallArgs);
    const run = new CliProcess(args, { wrapper: ns.wrapper, env });
    await origin.waitFor((line) => Number(line.sent) >= size / 4);
    ns.cut(port);
    const cutAt = Date.now();
    // The outage is seen (a connect refused by the cut link), then lasts its full length.
    await waitForLine(run, unreachable, (defaults ? 60_000 : 10_000) + outageMs);
    await delay(Math.max(0, cutAt + outageMs - Date.now()));
    ns.restore();
    const restoredAt = Date.now();
    const result = await run.done;

    assert.equal(result.code, 0, result.stderr.slice(-2000));
    const content = await readFile(join(dir, "out", "data.bin"));
    assert.equal(sha256(content), sha256(bytes(size, 7)), "byte-exact");
    const failures = named(result.logs, "download failed").filter(unreachable);
    assert.ok(failures.length > maxRetries, `more attempts than --max-retries: ${failures.length}`);
    for (const sleep of named(result.logs, "sleeping before retry"))
      assert.ok(Number(sleep.delay_ms) <= 2500, `waits stay short: ${sleep.delay_ms} ms`);
    const ranges = origin.lines.flatMap((line) =>
      line.request ? [(line.request as { range: string | null }).range] : [],
    );
    assert.equal(ranges[0], null, "the first request is the whole file");
    const resumed = ranges.filter((range) => range !== null && !range.startsWith("bytes=0-"));
    assert.equal(resumed.length, 1, `resumed once with Range: ${JSON.stringify(ranges)}`);
    const resumedAt = Date.parse(String(named(result.logs, "attempting download").at(-1)?.ts));
    t.diagnostic(`resumed ${resumedAt - restoredAt} ms after the link came back`);

    // The circuit stayed closed: the next run answers "unchanged" with one request.
    const again = await runCli(args, { wrapper: ns.wrapper, env });
    assert.equal(again.code, 0, again.stderr);
    assert.ok(named(again.logs, "destination already up-to-date").length === 1);
  });

  test("--retry-max-time bounds how long an outage is waited out; the next run resumes", async (t) => {
    const dir = await tempDir(t);
    const { ns, origin, port, url } = await originInNamespace(t);
    // The circuit this failure opens would refuse the next run for 5 minutes.
    const args = singlePair(url, dir, "out/data.bin", "--timeout", "2", "--circuit-ttl", "0");
    const run = new CliProcess([...args, "--retry-max-time", "4"], { wrapper: ns.wrapper, env });
    await origin.waitFor((line) => Number(line.sent) >= size / 4);
    ns.cut(port);
    const result = await run.done;
    ns.restore();

    assert.equal(result.code, 70, result.stderr.slice(-2000));
    const exhausted = named(result.logs, "exhausted retries")[0];
    assert.match(
      String(exhausted?.reason),
      /gave up after 4 s without an answer \(--retry-max-time\)/,
    );
    const again = await runCli(args, { wrapper: ns.wrapper, env });
    assert.equal(again.code, 0, again.stderr);
    const resumeFrom = named(again.logs, "attempting download").map((l) => Number(l.resume_from));
    assert.ok(resumeFrom[0] !== undefined && resumeFrom[0] > 0, `resumed: ${resumeFrom}`);
    const content = await readFile(join(dir, "out", "data.bin"));
    assert.equal(sha256(content), sha256(bytes(size, 7)));
  });
});

/** Waits until the running CLI has logged a line that `matches` (bounded). */
async function waitForLine(
  run: CliProcess,
  matches: (line: LogLine) => boolean,
  timeoutMs: number,
): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs);
  while (!run.logs().some(matches)) {
    if (run.child.exitCode !== null) throw new Error(`exited early: ${run.stderr.slice(-2000)}`);
    await once(run.child, "output", { signal });
  }
}
