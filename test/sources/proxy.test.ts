/**
 * Proxies: a real tinyproxy in front of an origin that refuses direct clients, with and without
 * proxy auth, for http and (through CONNECT) https; curl's rules for the environment. Skipped,
 * saying why, where tinyproxy or openssl is missing (`.ci/run` installs both).
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { findLog, singlePair as pairIn, runCli } from "../helpers/cli.js";
import {
  hasOpenssl,
  httpsOrigin,
  listen,
  noProxyEnv,
  proxiedOnlyOrigin,
  serveIf,
  singlePair,
  synced,
} from "../helpers/origins.js";
import { freePort, hasTinyproxy, Tinyproxy } from "../helpers/proxy.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

async function proxy(t: TestContext, dir: string, auth?: { user: string; password: string }) {
  const started = await Tinyproxy.start(dir, auth);
  t.after(() => started.stop());
  return started;
}

describe("proxies", { skip: hasTinyproxy ? false : "tinyproxy is not installed" }, () => {
  test("http_proxy is honoured; the origin refuses whoever comes without it", async (t) => {
    const dir = await tempDir(t);
    const origin = await proxiedOnlyOrigin(t);
    const through = await proxy(t, dir);
    const direct = await runCli(singlePair(origin, dir, "direct.bin"), { env: noProxyEnv });
    assert.equal(direct.code, 70, "the origin refuses direct clients");
    const result = await runCli(singlePair(origin, dir, "data.bin"), {
      env: { ...noProxyEnv, http_proxy: through.url },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(await synced(dir));
  });

  test('curl\'s rules: upper-case HTTP_PROXY is ignored for http, no_proxy and --proxy "" go direct, --proxy wins', async (t) => {
    const dir = await tempDir(t);
    const origin = await proxiedOnlyOrigin(t);
    const through = await proxy(t, dir);
    for (const [what, env, extra, code] of [
      ["HTTP_PROXY (upper case)", { HTTP_PROXY: through.url }, [], 70],
      ["no_proxy=127.0.0.1", { http_proxy: through.url, no_proxy: "127.0.0.1" }, [], 70],
      ['--proxy ""', { http_proxy: through.url }, ["--proxy", ""], 70],
      ["--no-proxy '*'", { http_proxy: through.url }, ["--no-proxy", "*"], 70],
      ["--proxy host:port (no scheme)", {}, ["--proxy", `127.0.0.1:${through.port}`], 0],
      ["all_proxy", { all_proxy: through.url }, [], 0],
    ] as const) {
      const result = await runCli(
        singlePair(origin, dir, `${code}-${what.length}.bin`, "--force", ...extra),
        {
          env: { ...noProxyEnv, ...env },
        },
      );
      assert.equal(result.code, code, `${what}: ${result.stderr.slice(0, 500)}`);
    }
  });

  test("proxy Basic auth from the proxy URL; the password never shows; a wrong one fails", async (t) => {
    const dir = await tempDir(t);
    const origin = await proxiedOnlyOrigin(t);
    const through = await proxy(t, dir, { user: "alice", password: "PROXYSECRET42" });
    const withAuth = `http://alice:PROXYSECRET42@127.0.0.1:${through.port}`;
    const ok = await runCli(singlePair(origin, dir, "data.bin", "--proxy", withAuth, "--json"), {
      env: noProxyEnv,
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(await synced(dir));
    const wrong = await runCli(singlePair(origin, dir, "wrong.bin", "--json"), {
      env: { ...noProxyEnv, http_proxy: `http://alice:WRONGSECRET99@127.0.0.1:${through.port}` },
    });
    assert.notEqual(wrong.code, 0);
    // tinyproxy answers a refused proxy login with 401 (squid: 407).
    assert.ok(
      [401, 407].includes(Number(findLog(wrong, "download failed")?.status)),
      wrong.stderr.slice(0, 500),
    );
    for (const output of [ok.stdout + ok.stderr, wrong.stdout + wrong.stderr]) {
      assert.ok(!output.includes("PROXYSECRET42") && !output.includes("WRONGSECRET99"));
    }
  });

  test("https goes through the proxy with CONNECT", {
    skip: hasOpenssl ? false : "openssl is not installed",
  }, async (t) => {
    const dir = await tempDir(t);
    const origin = await httpsOrigin(t, dir);
    const through = await proxy(t, dir);
    const result = await runCli(singlePair(origin.url, dir, "data.bin", "--cacert", origin.ca), {
      env: { ...noProxyEnv, https_proxy: through.url },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(await synced(dir));
    assert.match(await through.log(), /CONNECT/, "the tunnel went through the proxy");
  });

  test("a proxy URL that is not one is refused: exit 64, named, nothing written", async (t) => {
    const dir = await tempDir(t);
    for (const [given, pattern] of [
      ["socks5://127.0.0.1:1080", /socks5 proxies are not supported/],
      ["http://127.0.0.1:8/some/path", /not a path/],
      ["http://user:50%zz@127.0.0.1:8", /malformed %-escape/],
    ] as const) {
      const result = await runCli(
        singlePair("http://127.0.0.1:9/x", dir, "out/x", "--proxy", given),
      );
      assert.equal(result.code, 64, result.stderr);
      assert.match(result.stderr, pattern);
      assert.doesNotMatch(result.stderr, /50%zz/, "the password is never echoed");
    }
    assert.deepEqual(await listFiles(dir), []);
  });
});

describe("a proxy that cannot be reached", () => {
  test("is named as the fault, and does not open the origin's circuit: the next run without it syncs", async (t) => {
    const dir = await tempDir(t);
    const origin = `http://127.0.0.1:${await listen(
      t,
      createServer(serveIf(() => true)),
    )}/data.bin`;
    const dead = `http://127.0.0.1:${await freePort()}`;
    const common = ["--circuit-threshold", "1"];
    const viaDead = await runCli(
      [...pairIn(origin, dir, "data.bin"), ...common, "--max-retries", "1", "--json"],
      { env: { ...noProxyEnv, http_proxy: dead } },
    );
    assert.equal(viaDead.code, 70, viaDead.stderr);
    const failure = JSON.parse(viaDead.stdout).results[0].error;
    assert.equal(failure.code, "network");
    assert.match(
      failure.message,
      new RegExp(`cannot reach the proxy ${dead}/? \\(from http_proxy\\)`),
    );
    const direct = await runCli([...pairIn(origin, dir, "data.bin"), ...common], {
      env: noProxyEnv,
    });
    assert.equal(direct.code, 0, direct.stderr);
    assert.ok(await synced(dir));
  });

  test("a request no_proxy sends direct is the origin's failure, proxy set or not: its circuit opens", async (t) => {
    const dir = await tempDir(t);
    const deadOrigin = `http://127.0.0.1:${await freePort()}/data.bin`;
    const env = {
      ...noProxyEnv,
      http_proxy: `http://127.0.0.1:${await freePort()}`,
      no_proxy: "127.0.0.1",
    };
    const first = await runCli(
      [
        ...pairIn(deadOrigin, dir, "data.bin"),
        "--circuit-threshold",
        "1",
        "--max-retries",
        "1",
        "--json",
      ],
      { env },
    );
    assert.equal(first.code, 70, first.stderr);
    const failure = JSON.parse(first.stdout).results[0].error;
    assert.doesNotMatch(failure.message, /proxy/);
    const second = await runCli(
      [...pairIn(deadOrigin, dir, "data.bin"), "--circuit-threshold", "1"],
      {
        env,
      },
    );
    assert.equal(second.code, 75, second.stderr);
  });

  test("a socks proxy in the environment refuses only runs it would apply to: local files sync", async (t) => {
    const dir = await tempDir(t);
    const local = join(dir, "local.txt");
    await writeFile(local, "here\n");
    const env = { ...noProxyEnv, ALL_PROXY: "socks5h://127.0.0.1:1080" };
    const files = await runCli([local, "-o", join(dir, "copy.txt"), "--lock-dir", join(dir, "l")], {
      env,
    });
    assert.equal(files.code, 0, files.stderr);
    const url = await runCli(singlePair("http://127.0.0.1:9/x", dir, "out/x"), { env });
    assert.equal(url.code, 64, url.stderr);
    assert.match(url.stderr, /ALL_PROXY: socks5h proxies are not supported/);
  });
});
