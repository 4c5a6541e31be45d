/**
 * Proxies, beside tinyproxy's tests: a real squid in front of an origin that refuses direct
 * clients, for http (absolute-URI requests) and https (CONNECT, which squid allows only to the
 * ports an admin lists), and squid's Basic auth. Where squid differs from tinyproxy: a refused or
 * missing proxy login is 407 (tinyproxy: 401), and a CONNECT to an unlisted port is 403.
 * Skipped, saying why, where squid, its auth helper or openssl is missing (`.ci/run` installs them).
 */
import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import { type CliResult, findLog, runCli } from "../helpers/cli.js";
import {
  hasOpenssl,
  httpsOrigin,
  noProxyEnv,
  proxiedOnlyOrigin,
  singlePair,
  synced,
} from "../helpers/origins.js";
import { hasNcsaAuth, hasSquid, Squid, type SquidOptions } from "../helpers/squid.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

const VIA_SQUID = /\(squid\//;

async function squid(t: TestContext, dir: string, options?: SquidOptions) {
  const started = await Squid.start(dir, options);
  t.after(() => started.stop());
  return started;
}

/** The reason the pair failed with, from the results document (`--json`). */
function failureOf(result: CliResult): string {
  const report = JSON.parse(result.stdout) as { results: { error?: { message?: string } }[] };
  return String(report.results[0]?.error?.message);
}

describe("squid", { skip: hasSquid ? false : "squid is not installed" }, () => {
  test("http goes through squid; the origin refuses whoever comes without it", async (t) => {
    const dir = await tempDir(t);
    const origin = await proxiedOnlyOrigin(t, VIA_SQUID);
    const through = await squid(t, dir);
    const direct = await runCli(singlePair(origin, dir, "direct.bin"), { env: noProxyEnv });
    assert.equal(direct.code, 70, "the origin refuses direct clients");
    const result = await runCli(singlePair(origin, dir, "data.bin"), {
      env: { ...noProxyEnv, http_proxy: through.url },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(await synced(dir));
    assert.match(await through.accessLog(), /GET http:\/\/127\.0\.0\.1:\d+\/data\.bin/);
  });

  test("https goes through squid with CONNECT, to a port squid was told to allow", {
    skip: hasOpenssl ? false : "openssl is not installed",
  }, async (t) => {
    const dir = await tempDir(t);
    const origin = await httpsOrigin(t, dir);
    const port = Number(new URL(origin.url).port);
    const through = await squid(t, dir, { connectPorts: [port] });
    const result = await runCli(singlePair(origin.url, dir, "data.bin", "--cacert", origin.ca), {
      env: { ...noProxyEnv, https_proxy: through.url },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(await synced(dir));
    assert.match(await through.accessLog(), new RegExp(`CONNECT 127\\.0\\.0\\.1:${port}`));
  });

  test("a CONNECT squid refuses (a port it does not allow) fails, naming the proxy's answer", {
    skip: hasOpenssl ? false : "openssl is not installed",
  }, async (t) => {
    const dir = await tempDir(t);
    const origin = await httpsOrigin(t, dir);
    const through = await squid(t, dir);
    const result = await runCli(
      singlePair(origin.url, dir, "data.bin", "--cacert", origin.ca, "--json"),
      { env: { ...noProxyEnv, https_proxy: through.url } },
    );
    assert.equal(result.code, 70, result.stderr);
    assert.match(failureOf(result), /proxy .*refused the tunnel.*403/);
    assert.deepEqual(
      (await listFiles(dir)).filter((name) => name.startsWith("data")),
      [],
      "nothing written",
    );
  });

  describe("Basic auth", {
    skip: hasNcsaAuth ? false : `squid's ${"basic_ncsa_auth"} helper is not installed`,
  }, () => {
    const auth = { user: "alice", password: "SQUIDSECRET42" };

    test("no credentials: 407, said plainly, naming the proxy; with them in the proxy URL: synced; the password never shows", async (t) => {
      const dir = await tempDir(t);
      const origin = await proxiedOnlyOrigin(t, VIA_SQUID);
      const through = await squid(t, dir, { auth });
      const missing = await runCli(singlePair(origin, dir, "missing.bin", "--json"), {
        env: { ...noProxyEnv, http_proxy: through.url },
      });
      assert.equal(missing.code, 70, missing.stderr);
      assert.equal(findLog(missing, "download failed")?.status, 407);
      assert.match(
        failureOf(missing),
        new RegExp(
          `proxy authentication required by the proxy http://127\\.0\\.0\\.1:${through.port}/ \\(from http_proxy\\): it asked for credentials`,
        ),
      );
      assert.equal(
        missing.logs.filter((line) => line.message === "attempting download").length,
        1,
        "a 407 is not retried: the same request gets the same answer",
      );

      const withAuth = `http://alice:SQUIDSECRET42@127.0.0.1:${through.port}`;
      const ok = await runCli(singlePair(origin, dir, "data.bin", "--json"), {
        env: { ...noProxyEnv, http_proxy: withAuth },
      });
      assert.equal(ok.code, 0, ok.stderr);
      assert.ok(await synced(dir));
      assert.match(await through.accessLog(), / alice /, "squid saw the user");

      const wrong = await runCli(singlePair(origin, dir, "wrong.bin", "--json"), {
        env: { ...noProxyEnv, http_proxy: `http://alice:WRONGSECRET99@127.0.0.1:${through.port}` },
      });
      assert.equal(wrong.code, 70);
      assert.equal(findLog(wrong, "download failed")?.status, 407);
      assert.match(
        failureOf(wrong),
        /proxy authentication required by the proxy http:\/\/\*\*\*@127\.0\.0\.1:\d+\/ \(from http_proxy\): it refused the credentials/,
      );
      for (const output of [missing, ok, wrong].map((r) => r.stdout + r.stderr))
        assert.ok(!output.includes("SQUIDSECRET42") && !output.includes("WRONGSECRET99"), output);
    });

    test("https through an authenticating squid: 407 on CONNECT without credentials, synced with them", {
      skip: hasOpenssl ? false : "openssl is not installed",
    }, async (t) => {
      const dir = await tempDir(t);
      const origin = await httpsOrigin(t, dir);
      const port = Number(new URL(origin.url).port);
      const through = await squid(t, dir, { auth, connectPorts: [port] });
      const missing = await runCli(
        singlePair(origin.url, dir, "missing.bin", "--cacert", origin.ca, "--json"),
        { env: { ...noProxyEnv, https_proxy: through.url } },
      );
      assert.equal(missing.code, 70, missing.stderr);
      assert.equal(findLog(missing, "download failed")?.status, 407);
      assert.match(
        failureOf(missing),
        /proxy authentication required by the proxy http:\/\/127\.0\.0\.1:\d+\/ \(from https_proxy\)/,
      );
      const ok = await runCli(singlePair(origin.url, dir, "data.bin", "--cacert", origin.ca), {
        env: {
          ...noProxyEnv,
          https_proxy: `http://alice:SQUIDSECRET42@127.0.0.1:${through.port}`,
        },
      });
      assert.equal(ok.code, 0, ok.stderr);
      assert.ok(await synced(dir));
      for (const output of [missing, ok].map((r) => r.stdout + r.stderr))
        assert.ok(!output.includes("SQUIDSECRET42"), output);
    });
  });
});
