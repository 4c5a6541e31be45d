/** A proxy's refusals as undici reports them, said plainly: which proxy, what it wants, retried or not. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { proxyFailure } from "../../src/sources/http/proxy-errors.js";

/** undici's errors carry their meaning in the message only (see proxy-errors.ts). */
const authRequired = () => new Error("Proxy Authentication Required (407)");
const tunnelRefused = (status: number) =>
  new Error(`Proxy response (${status}) !== 200 when HTTP Tunneling`);
const WHERE = "https://example.com/a.bin";

describe("proxy failures", () => {
  test("a 407 names the proxy (redacted) and where it came from, asks for credentials, and is not retried", () => {
    const missing = proxyFailure(authRequired(), WHERE, {
      url: "http://proxy.example:3128/",
      source: "https_proxy",
    });
    assert.equal(missing?.status, 407);
    assert.equal(missing?.retryable, false);
    assert.equal(
      missing?.message,
      "https://example.com/a.bin: proxy authentication required by the proxy http://proxy.example:3128/ (from https_proxy): it asked for credentials: give them in the proxy URL (http://user:password@host:port) (HTTP 407)",
    );
    const refused = proxyFailure(authRequired(), WHERE, {
      url: "http://bob:HUNTER2@proxy.example:3128/",
      source: "--proxy",
    });
    assert.match(String(refused?.message), /it refused the credentials given in the proxy URL/);
    assert.match(
      String(refused?.message),
      /http:\/\/\*\*\*@proxy\.example:3128\/ \(from --proxy\)/,
    );
    assert.ok(!String(refused?.message).includes("HUNTER2"));
    const header = proxyFailure(authRequired(), WHERE, {
      url: "http://proxy.example:3128/",
      source: "--proxy",
      headerLogin: true,
    });
    assert.match(
      String(header?.message),
      /it refused the Proxy-Authorization header given with --header \(HTTP 407\)$/,
    );
    const tunnel = proxyFailure(tunnelRefused(407), WHERE, undefined);
    assert.match(String(tunnel?.message), /proxy authentication required by the proxy: /);
  });

  test("a refused CONNECT says so with the proxy's status; only a 5xx is retried", () => {
    const proxy = { url: "http://127.0.0.1:3128/", source: "all_proxy" };
    const forbidden = proxyFailure(tunnelRefused(403), WHERE, proxy);
    assert.equal(
      forbidden?.message,
      "https://example.com/a.bin: the proxy http://127.0.0.1:3128/ (from all_proxy) refused the tunnel (CONNECT answered HTTP 403)",
    );
    assert.equal(forbidden?.retryable, false);
    assert.equal(proxyFailure(tunnelRefused(502), WHERE, proxy)?.retryable, true);
  });

  test("anything else is not a proxy's refusal", () => {
    for (const error of [
      new Error("connect ECONNREFUSED 127.0.0.1:3128"),
      new Error("Proxy response (abc) !== 200 when HTTP Tunneling"),
      "Proxy Authentication Required (407)",
      undefined,
    ])
      assert.equal(proxyFailure(error, WHERE, undefined), undefined, String(error));
  });
});
