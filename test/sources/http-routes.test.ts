/**
 * Which client sends a request (client.ts): our own HTTP/1.1 client for direct requests, undici
 * for those through a proxy (a real tinyproxy here) and for every request when asked to
 * (RESILIENT_SYNC_HTTP_CLIENT=undici, the way back). Whichever route, the body is the same bytes.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { NetworkSettings } from "../../src/options/network.js";
import { HttpClient, type HttpResponse } from "../../src/sources/http/client.js";
import { hasTinyproxy, Tinyproxy } from "../helpers/proxy.js";
import { bytes, useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const server = useTestServer();
const BODY = bytes(700_000, 601);

function network(httpProxy: string, noProxy = ""): NetworkSettings {
  return {
    httpProxy,
    httpsProxy: "",
    noProxy,
    proxySource: httpProxy === "" ? {} : { http: "--proxy" },
    tls: { rejectUnauthorized: true },
    proxyTls: { rejectUnauthorized: true },
    netrc: undefined,
  };
}

/** One GET through a client made with `options`; the engine, the body and the Via it arrived with. */
async function fetchThrough(options: {
  network?: NetworkSettings;
  engine?: "auto" | "undici";
}): Promise<{ engine: HttpResponse["engine"]; body: Buffer; via: string | undefined }> {
  const client = await HttpClient.create({
    timeoutMs: 10_000,
    headers: {},
    userAgent: "test",
    now: Date.now,
    ...options,
  });
  try {
    const before = server.requestsFor("/routed.bin").length;
    const { response } = await client.get(
      server.url("/routed.bin"),
      {},
      new AbortController().signal,
    );
    const chunks: Buffer[] = [];
    for await (const chunk of response.handOver()) chunks.push(chunk as Buffer);
    const via = server.requestsFor("/routed.bin")[before]?.headers.via;
    return { engine: response.engine, body: Buffer.concat(chunks), via: via as string | undefined };
  } finally {
    await client.close();
  }
}

describe("http routes", () => {
  test("a direct request goes through h1; RESILIENT_SYNC_HTTP_CLIENT=undici sends it with undici", async () => {
    server.route("/routed.bin", { body: BODY });
    const direct = await fetchThrough({});
    assert.equal(direct.engine, "h1");
    assert.ok(direct.body.equals(BODY));
    const back = await fetchThrough({ engine: "undici" });
    assert.equal(back.engine, "undici");
    assert.ok(back.body.equals(BODY));
  });

  test("through a proxy: undici, by way of the proxy; a no_proxy host: h1, directly", {
    skip: hasTinyproxy ? false : "tinyproxy is not installed",
  }, async (t) => {
    server.route("/routed.bin", { body: BODY });
    const proxy = await Tinyproxy.start(await tempDir(t));
    t.after(() => proxy.stop());
    const proxied = await fetchThrough({ network: network(proxy.url) });
    assert.equal(proxied.engine, "undici");
    assert.match(String(proxied.via), /tinyproxy/);
    assert.ok(proxied.body.equals(BODY));
    const exempt = await fetchThrough({ network: network(proxy.url, "127.0.0.1") });
    assert.equal(exempt.engine, "h1");
    assert.equal(exempt.via, undefined);
    assert.ok(exempt.body.equals(BODY));
  });
});
