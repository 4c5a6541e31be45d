/**
 * `--state redis://…` through the real CLI against a real redis-server: bad values are exit 64
 * naming the flag; a Redis unreachable at start-up is exit 42 with nothing fetched or written; a
 * Redis lost mid-run stops the transfer without committing, says why, and never falls back to
 * local state. The password never reaches any output.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CliProcess, findLog, runCli } from "../helpers/cli.js";
import { REDIS_SKIP, startRedis } from "../helpers/redis.js";
import { bytes, useTestServer } from "../helpers/server.js";
import { tempDir, waitForPart } from "../helpers/tmp.js";

const server = useTestServer();
const SECRET = "S3cretRedisPassw0rd";

/** A 127.0.0.1 port nothing listens on (taken, then freed). */
async function closedPort(): Promise<number> {
  const probe = createServer().listen(0, "127.0.0.1");
  await new Promise((resolve) => probe.once("listening", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const args = (dir: string, path: string, state: string, ...extra: string[]) => [
  "--source-url",
  server.url(path),
  "--destination",
  join(dir, "out", "data.bin"),
  "--lock-dir",
  join(dir, "locks"),
  "--state",
  state,
  ...extra,
];

/** Nothing local: no lock dir, no lock file beside the destination. */
async function assertNoLocalState(dir: string): Promise<void> {
  assert.equal(existsSync(join(dir, "locks")), false, "no local lock dir");
  const beside = await readdir(join(dir, "out")).catch(() => [] as string[]);
  assert.deepEqual(
    beside.filter((name) => name.endsWith(".lock")),
    [],
    "no lock file beside the destination",
  );
}

describe("--state redis://", () => {
  test("bad values are refused (exit 64) naming the flag, without echoing a password", async (t) => {
    const dir = await tempDir(t);
    server.route("/never.bin", { body: bytes(10, 1) });
    for (const state of [
      `http://u:${SECRET}@127.0.0.1:6379`,
      `redis://u:${SECRET}@127.0.0.1:99999`,
      `redis://u:${SECRET}@127.0.0.1:0`,
      `redis://u:${SECRET}@127.0.0.1:6379/db`,
    ]) {
      const result = await runCli(args(dir, "/never.bin", state));
      assert.equal(result.code, 64, `${state}: ${result.stderr}`);
      assert.equal(findLog(result, "invalid argument")?.argument, "--state");
      assert.ok(!`${result.stdout}${result.stderr}`.includes(SECRET), result.stderr);
    }
    const prefixOnly = await runCli([
      "--source-url",
      server.url("/never.bin"),
      "--destination",
      join(dir, "out", "data.bin"),
      "--state-prefix",
      "x:",
    ]);
    assert.equal(prefixOnly.code, 64, prefixOnly.stderr);
    assert.equal(findLog(prefixOnly, "invalid argument")?.argument, "--state-prefix");
    assert.equal(server.requestsFor("/never.bin").length, 0);
  });

  test("a Redis unreachable at start-up: a clear error, exit 42, nothing fetched or written", async (t) => {
    const dir = await tempDir(t);
    server.route("/unreachable.bin", { body: bytes(1000, 2) });
    const port = await closedPort();
    const result = await runCli(
      args(dir, "/unreachable.bin", `redis://u:${SECRET}@127.0.0.1:${port}/3`, "--json"),
    );
    assert.equal(result.code, 42, result.stderr);
    const unfit = findLog(result, "environment unfit");
    assert.equal(unfit?.check, "state");
    assert.match(
      String(unfit?.reason),
      new RegExp(`state store redis://127\\.0\\.0\\.1:${port}/3 unreachable: .*ECONNREFUSED`),
    );
    assert.ok(!`${result.stdout}${result.stderr}`.includes(SECRET), "the password is never shown");
    assert.equal(server.requestsFor("/unreachable.bin").length, 0, "nothing fetched");
    assert.equal(existsSync(join(dir, "out")), false, "nothing written");
    await assertNoLocalState(dir);
  });

  test("the password may come from $RESILIENT_SYNC_REDIS_PASSWORD, out of the command line: synced; a wrong one is exit 42; never shown", {
    skip: REDIS_SKIP,
  }, async (t) => {
    const redis = await startRedis({ password: SECRET });
    t.after(() => redis.stop());
    const dir = await tempDir(t);
    server.route("/env-password.bin", { body: bytes(2000, 5) });
    const state = `redis://127.0.0.1:${redis.port}/0`;
    const run = (password: string) =>
      runCli([...args(dir, "/env-password.bin", state), "--json"], {
        env: { RESILIENT_SYNC_REDIS_PASSWORD: password },
      });
    const wrong = await run("not-the-password");
    assert.equal(wrong.code, 42, wrong.stderr);
    const right = await run(SECRET);
    assert.equal(right.code, 0, right.stderr);
    assert.equal(JSON.parse(right.stdout).results[0]?.status, "synced");
    for (const result of [wrong, right])
      assert.ok(
        !`${result.stdout}${result.stderr}`.includes(SECRET),
        "the password is never shown",
      );
    // A run that uses no Redis does not scrub it: here it is a word of the destination's name.
    const local = join(dir, "notes.txt");
    await writeFile(local, "n\n");
    const copy = await runCli([local, "-o", join(dir, "env-password.txt"), "--json"], {
      env: { RESILIENT_SYNC_REDIS_PASSWORD: "password" },
    });
    assert.equal(copy.code, 0, copy.stderr);
    assert.match(JSON.parse(copy.stdout).results[0]?.destination, /env-password\.txt$/);
  });

  test("what ioredis prints on the console (a password Redis does not ask for) is a JSON warning line, not a raw one", {
    skip: REDIS_SKIP,
  }, async (t) => {
    const redis = await startRedis();
    t.after(() => redis.stop());
    const dir = await tempDir(t);
    server.route("/console.bin", { body: bytes(2000, 6) });
    const result = await runCli(
      args(dir, "/console.bin", `redis://:${SECRET}@127.0.0.1:${redis.port}/0`),
    );
    assert.equal(result.code, 0, result.stderr);
    for (const line of result.stderr.split("\n").filter((text) => text !== ""))
      assert.doesNotThrow(() => JSON.parse(line), line);
    assert.match(
      String(findLog(result, "library warning")?.reason),
      /does not require a password/,
      result.stderr,
    );
    assert.ok(!`${result.stdout}${result.stderr}`.includes(SECRET), "the password is never shown");
  });

  test("only the password is a secret: a user name such as `default` is not scrubbed from the output", {
    skip: REDIS_SKIP,
  }, async (t) => {
    const redis = await startRedis();
    t.after(() => redis.stop());
    const dir = await tempDir(t);
    server.route("/default-data.bin", { body: bytes(2000, 4) });
    // Redis's `default` user has no password here, so any password is accepted.
    const state = `redis://default:${SECRET}@127.0.0.1:${redis.port}/0`;
    const result = await runCli([
      "--source-url",
      server.url("/default-data.bin"),
      "--destination",
      join(dir, "out", "default-data.bin"),
      "--state",
      state,
      "--json",
    ]);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout); // a scrubbed user name could break the JSON itself
    assert.equal(report.results[0]?.status, "synced");
    assert.ok(
      String(report.results[0]?.destination).endsWith("default-data.bin"),
      `the destination is shown as it is: ${report.results[0]?.destination}`,
    );
    assert.ok(!`${result.stdout}${result.stderr}`.includes(SECRET), "the password is never shown");
  });

  for (const when of ["while the body is held", "just before the commit"] as const) {
    test(`a Redis lost mid-run ${when}: the transfer stops without committing and says why`, {
      skip: REDIS_SKIP,
    }, async (t) => {
      const redis = await startRedis();
      t.after(() => redis.stop());
      const dir = await tempDir(t);
      const path = `/lost-${when === "while the body is held" ? "held" : "commit"}.bin`;
      server.route(path, {
        body: bytes(1_000_000, 3),
        script: [{ kind: "hold", afterBytes: 300_000 }],
      });
      const run = new CliProcess(args(dir, path, redis.url(), "--json"));
      t.after(() => run.child.kill("SIGKILL"));
      await waitForPart(join(dir, "out"), 300_000);
      await redis.kill();
      // Held, the transfer outlives the lease it can no longer renew; released, it reaches its
      // commit, where the lease cannot be confirmed.
      if (when === "just before the commit") server.release();
      const result = await run.done;
      server.release();
      assert.equal(result.code, 73, result.stderr);
      assert.ok(findLog(result, "state store unreachable"), result.stderr);
      const failed = result.logs.find(
        (line) =>
          line.level === "error" &&
          /state store redis:\/\/127\.0\.0\.1:\d+\/0 unreachable/.test(String(line.reason)),
      );
      assert.ok(failed, `the failure names the state store: ${result.stderr}`);
      assert.equal(findLog(result, "updated destination"), undefined, "nothing committed");
      assert.equal(existsSync(join(dir, "out", "data.bin")), false, "no destination");
      const report = JSON.parse(result.stdout) as { results: Array<{ status: string }> };
      assert.equal(report.results[0]?.status, "failed");
      await assertNoLocalState(dir);
    });
  }
});
