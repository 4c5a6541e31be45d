/**
 * Listing goes through the origin's circuit breaker and outage state as transfers do: its
 * failures open the circuit, a half-open circuit lets exactly one index request through as its
 * probe, and an origin this run already gave up on is not asked again by every other listing.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, test } from "node:test";
import { findLog, intoArtifactRoot, runCli } from "../helpers/cli.js";
import { reportOf } from "../helpers/remote-tree.js";
import { tempDir } from "../helpers/tmp.js";

const FAST = { env: { RESILIENT_SYNC_DELAY_SCALE: "0.001" } };

/** A server answering every request with `answer`; `paths` records what was asked. */
async function serve(
  answer: (server: Server, path: string, response: import("node:http").ServerResponse) => void,
): Promise<{ server: Server; base: string; origin: string; paths: string[] }> {
  const paths: string[] = [];
  const server = createServer((request, response) => {
    paths.push(request.url ?? "");
    answer(server, request.url ?? "", response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  return { server, base: origin, origin, paths };
}

const circuitFile = (origin: string) =>
  `circuit-${createHash("sha256").update(origin).digest("hex").slice(0, 32)}.json`;

describe("remote directories: origin health", () => {
  test("listing failures are recorded: they open the circuit, and the next run asks nothing", async (t) => {
    const dir = await tempDir(t);
    const down = await serve((_, __, response) => {
      response.statusCode = 503;
      response.end("down");
    });
    t.after(() => down.server.close());
    const first = await runCli(
      intoArtifactRoot([`${down.base}/a/`], dir, "--max-retries", "2", "--json"),
      FAST,
    );
    assert.equal(first.code, 70, first.stderr.slice(-2000));
    assert.ok(findLog(first, "circuit breaker opened"), first.stderr.slice(-2000));
    assert.deepEqual(await readdir(join(dir, "l")), [circuitFile(down.origin)]);

    const asked = down.paths.length;
    const second = await runCli(intoArtifactRoot([`${down.base}/b/`], dir, "--json"), FAST);
    assert.equal(second.code, 75, second.stderr.slice(-2000));
    assert.equal(reportOf(second).results[0]?.error?.code, "circuit_open");
    assert.equal(down.paths.length, asked, "the open circuit refused the index request");
  });

  test("--backoff-factor scales an index page's backoff as a transfer's (pages waited the default)", async (t) => {
    const dir = await tempDir(t);
    const down = await serve((_, __, response) => {
      response.statusCode = 503;
      response.end("down");
    });
    t.after(() => down.server.close());
    const delays: number[] = [];
    for (const factor of ["1", "0"]) {
      const run = await runCli(
        intoArtifactRoot(
          [`${down.base}/f${factor}/`],
          join(dir, factor),
          "--max-retries",
          "2",
          "--backoff-factor",
          factor,
        ),
        FAST,
      );
      assert.equal(run.code, 70, run.stderr.slice(-2000));
      delays.push(Number(findLog(run, "index request failed")?.delay_ms));
    }
    assert.ok((delays[0] as number) > 0, `factor 1: ${delays[0]} ms`);
    assert.equal(delays[1], 0, "factor 0: no wait");
  });

  test("a half-open circuit lets exactly one index request through, as its probe", async (t) => {
    const dir = await tempDir(t);
    const down = await serve((_, __, response) => {
      response.statusCode = 503;
      response.end("down");
    });
    t.after(() => down.server.close());
    // A circuit opened ten minutes ago for a one-second TTL: the next request is its probe.
    await mkdir(join(dir, "l"), { recursive: true });
    const now = Date.now();
    const open = { origin: down.origin, state: "open", failures: 3, openedAt: now - 600_000 };
    await writeFile(
      join(dir, "l", circuitFile(down.origin)),
      JSON.stringify({ ...open, openUntil: now - 599_000 }),
      { mode: 0o600 },
    );
    const result = await runCli(
      intoArtifactRoot(
        [`${down.base}/a/`, `${down.base}/b/`, `${down.base}/c/`],
        dir,
        "--circuit-ttl",
        "1",
        "--max-retries",
        "3",
        "--json",
      ),
      FAST,
    );
    assert.equal(result.code, 70, result.stderr.slice(-2000));
    assert.deepEqual(down.paths, ["/a/"], "one probe, not retried, and nothing after it failed");
    assert.equal(result.logs.filter((l) => l.message === "circuit breaker half-open").length, 1);
    assert.ok(findLog(result, "circuit breaker opened"), "the failed probe opened it again");
  });

  test("an origin given up on after its retry time is not listed again by each source", async (t) => {
    const dir = await tempDir(t);
    // Answers /a/ with one file, then goes away: every later connection is refused.
    const dying = await serve((server, path, response) => {
      response.setHeader("content-type", "text/html");
      response.setHeader("connection", "close");
      response.end('<a href="x.bin">x.bin</a>');
      if (path === "/a/") server.close();
    });
    const sources = ["a", "b", "c", "d"].map((name) => `${dying.base}/${name}/`);
    const result = await runCli(
      intoArtifactRoot(
        sources,
        dir,
        "--retry-max-time",
        "1",
        "--max-retries",
        "50",
        // Failures never open the circuit here: what stops the listing is the outage state.
        "--circuit-threshold",
        "100",
        "--json",
      ),
      FAST,
    );
    // Everything failed: the file of a/ too, its origin gone.
    assert.equal(result.code, 70, result.stderr.slice(-2000));
    assert.deepEqual(dying.paths, ["/a/"]);
    const retried = result.logs
      .filter((line) => line.message === "index request failed")
      .map((line) => new URL(String(line.page)).pathname);
    assert.ok(retried.includes("/b/"), retried.join(" "));
    assert.deepEqual(
      retried.filter((page) => page !== "/b/"),
      [],
      "c/ and d/ failed at once instead of each waiting out --retry-max-time",
    );
    const reasons = result.logs
      .filter((line) => line.message === "synchronization failed")
      .map((line) => String(line.reason));
    assert.equal(reasons.filter((reason) => /this run gave up on/.test(reason)).length, 2);
  });
});
