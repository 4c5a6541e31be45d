/**
 * SIGKILLs at random moments across a whole batch, with the sources changing between runs: a
 * batch of 24 files synced by 4 workers is killed after a random number of body bytes, or after a
 * random number of commits (the moments between a rename and its marker), one to three times in a
 * row, then run to the end. After every kill each destination is what it held before that run or
 * the source's current version, never anything else; after every finishing run, every destination
 * is the current version.
 *
 * `npm test` kills 20 times; `npm run test:chaos` 200 (CHAOS_BATCH_KILLS).
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CliProcess, type LogLine, runCli } from "../helpers/cli.js";
import { bytes, seeded, sha256, useTestServer } from "../helpers/server.js";
import { isPartName, tempDir } from "../helpers/tmp.js";

const KILLS = Number(process.env.CHAOS_BATCH_KILLS ?? 20);
const FILES = 24;
const SEED = Number(process.env.CHAOS_SEED ?? 20261202);
/** Every loop is bounded: rounds, and the time any one run may take. */
const MAX_ROUNDS = KILLS * 2;
const RUN_TIMEOUT_MS = 60_000;

const server = useTestServer();

interface Victim {
  run: CliProcess;
  /** Resolves `true` when it was killed, `false` when it finished first. */
  killed: Promise<boolean>;
}

/** Starts a run and SIGKILLs it the moment `due()` holds (checked on every server write and log line). */
function killWhen(args: string[], due: (run: CliProcess) => boolean): Victim {
  const run = new CliProcess(args);
  const killed = new Promise<boolean>((resolve, reject) => {
    let settled = false;
    const finish = (outcome: boolean | Error) => {
      if (settled) return;
      settled = true;
      server.off("progress", check);
      run.child.off("output", check);
      clearTimeout(timer);
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    function check() {
      if (settled || run.child.exitCode !== null || !due(run)) return;
      run.child.kill("SIGKILL");
      run.done.then((result) => finish(result.signal === "SIGKILL"));
    }
    const timer = setTimeout(() => {
      run.child.kill("SIGKILL");
      finish(new Error(`a run took over ${RUN_TIMEOUT_MS} ms`));
    }, RUN_TIMEOUT_MS);
    server.on("progress", check);
    run.child.on("output", check);
    run.done.then((result) => finish(result.signal === "SIGKILL"));
    check();
  });
  return { run, killed };
}

/** A lock file (or lock-break marker) beside the destinations: a killed run leaves its own; the next one takes it over. */
const isLockName = (name: string) =>
  name.startsWith(".resilient-sync-") && (name.endsWith(".lock") || name.endsWith(".lock.break"));

const commitsIn = (run: CliProcess) =>
  (run.stdout.match(/"message":"updated destination"/g) ?? []).length;

describe("batch crash loop", () => {
  test(`${KILLS} SIGKILLs at random moments across a batch of ${FILES} changing files: never a partial or mismatched destination`, async (t) => {
    const dir = await tempDir(t);
    const random = seeded(SEED);
    const out = join(dir, "out");
    const names = Array.from({ length: FILES }, (_, i) => `f${String(i).padStart(2, "0")}.bin`);
    let version = 0;
    const current = new Map<string, string>();
    const sizes = new Map<string, number>();
    const publish = (name: string) => {
      version += 1;
      const body = bytes(64 * 1024 + Math.floor(random() * 192 * 1024), SEED + version);
      current.set(name, sha256(body));
      sizes.set(name, body.length);
      // Slow enough for a kill to land mid-body: 16 KiB every 2 ms.
      server.route(`/batch/${name}`, { body, pace: { chunkBytes: 16 * 1024, intervalMs: 2 } });
    };
    for (const name of names) publish(name);
    const args = [
      ...names.map((name) => server.url(`/batch/${name}`)),
      "--artifact-root",
      out,
      "--lock-dir",
      join(dir, "locks"),
      "--max-workers",
      "4",
    ];
    const destinationsNow = async () => {
      const held = new Map<string, string>();
      for (const entry of await readdir(out).catch(() => [])) {
        if (!isPartName(entry) && !isLockName(entry))
          held.set(entry, sha256(await readFile(join(out, entry))));
      }
      return held;
    };

    let kills = 0;
    let history: LogLine[][] = [];
    let finishedFirst = 0;
    let rounds = 0;
    const killedBy = { bytes: 0, commits: 0 };
    for (; kills < KILLS && rounds < MAX_ROUNDS; rounds += 1) {
      // A random third of the sources change before each round.
      for (const name of names) if (random() < 1 / 3) publish(name);
      const inARow = 1 + Math.floor(random() * 3);
      history = [];
      for (let k = 0; k < inARow && kills < KILLS; k += 1) {
        const before = await destinationsNow();
        const sentBefore = server.requests.length;
        const sentSince = () =>
          server.requests.slice(sentBefore).reduce((sum, r) => sum + r.bytesSent, 0);
        // Killed somewhere within the work left: after up to 90 % of its bytes, or of its commits.
        const pending = names.filter((name) => before.get(name) !== current.get(name));
        if (pending.length === 0) break;
        const pendingBytes = pending.reduce((sum, name) => sum + (sizes.get(name) ?? 0), 0);
        const byBytes = random() < 0.5;
        const threshold = byBytes
          ? Math.floor(random() * 0.9 * pendingBytes)
          : 1 + Math.floor(random() * 0.9 * pending.length);
        const victim = killWhen(args, (run) =>
          byBytes ? sentSince() >= threshold : commitsIn(run) >= threshold,
        );
        history.push([]);
        if (!(await victim.killed)) {
          finishedFirst += 1;
          const result = await victim.run.done;
          assert.equal(result.code, 0, result.stderr);
          continue;
        }
        kills += 1;
        history[history.length - 1] = (await victim.run.done).logs;
        killedBy[byBytes ? "bytes" : "commits"] += 1;
        for (const [name, digest] of await destinationsNow()) {
          assert.ok(
            digest === before.get(name) || digest === current.get(name),
            `round ${rounds}, kill ${kills}: ${name} is neither what it held nor the current version`,
          );
        }
      }
      const next = await runCli(args);
      assert.equal(next.code, 0, `round ${rounds}: ${next.stderr}`);
      const held = await destinationsNow();
      for (const name of names) {
        assert.equal(
          held.get(name),
          current.get(name),
          `round ${rounds}: ${name} did not converge; its story: ${JSON.stringify(
            [...history, next.logs].map((logs) =>
              logs
                .filter((l) => String(l.destination ?? l.source ?? "").endsWith(name))
                .map((l) => [l.message, l.status, l.reason, l.checksum]),
            ),
          )}`,
        );
      }
    }
    const stranded = (await readdir(out)).filter(isPartName);
    t.diagnostic(
      `kills: ${kills} (after random bytes ${killedBy.bytes}, after random commits ${killedBy.commits}) in ${rounds} rounds; runs that finished before their kill: ${finishedFirst}; versions published: ${version}; partial or mismatched destinations: 0; part files left at the end: ${stranded.length}`,
    );
    assert.ok(kills >= KILLS, `only ${kills} kills in ${rounds} rounds`);
    assert.deepEqual(stranded, [], "every part a killed run left was resumed or removed");
  });
});
