import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { Redactor, redactUrl, secretsOfUrl } from "../../src/log/redact.js";

describe("redactUrl", () => {
  test("hides userinfo and credential-like query values, keeps the rest", () => {
    assert.equal(
      redactUrl(
        "https://user:pw@example.com:8443/a/b.csv?token=abc&page=2&X-Amz-Signature=s1&sig=zz#frag",
      ),
      "https://***@example.com:8443/a/b.csv?token=***&page=2&X-Amz-Signature=***&sig=***#***",
    );
  });
  for (const name of [
    "access_token",
    "api_key",
    "apikey",
    "key",
    "password",
    "signature",
    "X-Amz-Credential",
    "X-Goog-Signature",
    "client_secret",
    "private_token",
    "auth_token",
    "jwt",
    "session_id",
    "X-Amz-Security-Token",
    "credential",
  ]) {
    test(`treats ${name} as a credential`, () => {
      assert.equal(redactUrl(`http://h/x?${name}=SECRET`), `http://h/x?${name}=***`);
    });
  }
  test("hides a fragment (OAuth puts tokens there) and the userinfo of a URL that does not parse", () => {
    assert.equal(redactUrl("https://h/cb#access_token=SECRET&x=1"), "https://h/cb#***");
    const broken = redactUrl("http://bob:Tr0ub#4dor@h/x");
    assert.ok(!broken.includes("Tr0ub") && !broken.includes("4dor"), broken);
    const spaced = redactUrl("http://bob:pass word@h/x?token=abc");
    assert.ok(!spaced.includes("pass word") && !spaced.includes("abc"), spaced);
  });
  test("leaves paths and file URLs alone", () => {
    assert.equal(redactUrl("/tmp/a#b.csv"), "/tmp/a#b.csv");
    assert.equal(redactUrl("/tmp/data.csv"), "/tmp/data.csv");
    assert.equal(redactUrl("file:///tmp/data.csv"), "file:///tmp/data.csv");
  });
});

describe("secretsOfUrl", () => {
  test("a URL with no userinfo, query or fragment has none; each of those still yields its secret", () => {
    assert.deepEqual(secretsOfUrl("http://127.0.0.1:8080/many/f0001.bin"), []);
    assert.deepEqual(secretsOfUrl("https://bob:pw@h/x"), ["bob", "pw"]);
    assert.deepEqual(secretsOfUrl("https://h/x?token=t0k3n&page=2"), ["t0k3n"]);
    assert.deepEqual(secretsOfUrl("https://h/x#access_token=abc"), ["access_token=abc"]);
  });
});

describe("Redactor", () => {
  test("scrubs registered secrets in raw and JSON-escaped form", () => {
    const redactor = new Redactor();
    redactor.add(...secretsOfUrl("https://bob:p%40ss%22word@h/x?token=t0k3n"));
    redactor.add("Bearer abc.def");
    const line = JSON.stringify({ m: 'p@ss"word and t0k3n and Bearer abc.def' });
    const scrubbed = redactor.scrub(line);
    assert.ok(!scrubbed.includes("t0k3n"));
    assert.ok(!scrubbed.includes("abc.def"));
    assert.ok(!scrubbed.includes('p@ss\\"word'), scrubbed);
  });
  test("ignores values too short to scrub safely", () => {
    const redactor = new Redactor();
    redactor.add("a", "");
    assert.equal(redactor.scrub("banana"), "banana");
  });
});

describe("Redactor.scrubJson", () => {
  test("digits and words as secrets: numbers and literals stay, the JSON stays valid, strings are scrubbed", () => {
    const redactor = new Redactor();
    redactor.add("12345", "null", "default");
    const line = JSON.stringify({
      bytes: 1234567,
      ok: null,
      state: "redis://default:12345@host:6379/0",
      name: "default-data.bin",
    });
    const parsed = JSON.parse(redactor.scrubJson(line));
    assert.equal(parsed.bytes, 1234567);
    assert.equal(parsed.ok, null);
    assert.equal(parsed.state, "redis://***:***@host:6379/0");
    assert.equal(parsed.name, "***-data.bin");
  });

  test("any secrets in any JSON: the result parses, and no string in it holds a secret", () => {
    const secret = fc.string({
      minLength: 3,
      maxLength: 8,
      unit: fc.constantFrom("n", "u", "\\", '"', "1", "a", "é", "\n"),
    });
    const value = fc.jsonValue({ maxDepth: 3 });
    fc.assert(
      fc.property(
        fc.array(secret, { minLength: 1, maxLength: 3 }),
        value,
        fc.nat(),
        (secrets, json, seed) => {
          const redactor = new Redactor();
          redactor.add(...secrets);
          // Put a secret inside a string of the value, so that some cases have something to hide.
          const planted = { json, planted: `x${secrets[seed % secrets.length]}y` };
          const out = JSON.parse(redactor.scrubJson(JSON.stringify(planted)));
          const strings: string[] = [];
          const walk = (v: unknown): void => {
            if (typeof v === "string") strings.push(v);
            else if (Array.isArray(v)) v.forEach(walk);
            else if (v && typeof v === "object")
              for (const [k, inner] of Object.entries(v)) {
                strings.push(k);
                walk(inner);
              }
          };
          walk(out);
          for (const s of strings)
            for (const hidden of secrets)
              assert.ok(
                !s.includes(hidden),
                `${JSON.stringify(s)} holds ${JSON.stringify(hidden)}`,
              );
        },
      ),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 500) },
    );
  });
});
