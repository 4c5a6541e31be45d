/** The core's seams hold: it reaches the world only through its `Runtime`. */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const CORE = fileURLToPath(new URL("../../../src/core/", import.meta.url));
/** What the core must not import: the filesystem, the HTTP client, any concrete store, source or destination. */
const FORBIDDEN = [
  /^node:fs/,
  /^fs(\/|$)/,
  /^undici/,
  /\/state\/(fs|memory)-store\.js$/,
  /\/state\/fs-leases\.js$/,
  /\/destinations\/local\//,
  /\/sources\/(http|file)\.js$/,
  /\/fs\//,
  /\/run\//,
  /\/cli\//,
];

test("src/core imports no node:fs, no undici, no concrete store, source or destination", () => {
  const files = readdirSync(CORE).filter((name) => name.endsWith(".ts"));
  assert.ok(files.length >= 5, `found the core's sources in ${CORE}`);
  const offences: string[] = [];
  for (const name of files) {
    const text = readFileSync(join(CORE, name), "utf8");
    for (const [, specifier] of text.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)) {
      if (FORBIDDEN.some((pattern) => pattern.test(String(specifier))))
        offences.push(`${name} imports ${specifier}`);
    }
  }
  assert.deepEqual(offences, []);
});
