/**
 * Property-based tests (fast-check) over what takes untrusted text: the argument parser, URL →
 * destination-name mapping, checksum parsing. No input may crash them; every refusal names its
 * argument; no generated name may leave the artifact root.
 */
import assert from "node:assert/strict";
import { join, resolve, sep } from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import { parseChecksumArgument } from "../src/checksums/digest.js";
import { parseCommandLine } from "../src/cli/args.js";
import { UsageError } from "../src/errors.js";
import { redactUrl } from "../src/log/redact.js";
import { normalizeOptions } from "../src/options/normalize.js";
import { OPTION_TABLE } from "../src/options/table.js";
import { httpPathname, nameFromUrlPath, parseSourceLocation } from "../src/sources/location.js";

const RUNS = Number(process.env.PROPERTY_RUNS ?? 300);
const ROOT = "/srv/artifact-root";

/** Strings made of the characters that break parsers: separators, dots, percent escapes, controls. */
const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.stringMatching(/^[./\\%2eEfF5cC0-9a-z:?#@=&-]{0,40}$/),
  fc.constantFrom(
    "..",
    ".",
    "%2e%2e",
    "..%2f",
    "%2F",
    "%5C",
    "..\\..",
    "%00",
    "\u0000",
    "a/../../b",
    "%252e",
  ),
);

const flags = OPTION_TABLE.flatMap((spec) => [
  `--${spec.flag}`,
  ...(spec.short ? [`-${spec.short}`] : []),
]);
const argvItem = fc.oneof(
  fc.constantFrom(...flags, "--", "-", "--bogus", "-z"),
  fc.string({ maxLength: 20 }),
  fc.integer().map(String),
);

/** Accepts only a UsageError whose argument names something the user wrote, or the SOURCE slot. */
function assertNamedRefusal(error: unknown, argv: readonly string[]): void {
  assert.ok(error instanceof UsageError, `not a UsageError: ${String(error)}`);
  const named = argv.some((arg) => arg === error.argument || arg.startsWith(`${error.argument}=`));
  const optionOfTable = flags.includes(error.argument);
  assert.ok(
    named || optionOfTable || error.argument === "SOURCE",
    `argument ${error.argument} is not in ${JSON.stringify(argv)}`,
  );
  assert.ok(error.message.length > 0);
}

describe("properties", () => {
  test("the argument parser never crashes: it parses, or refuses naming an argument", () => {
    fc.assert(
      fc.property(fc.array(argvItem, { maxLength: 8 }), (argv) => {
        try {
          const options = parseCommandLine(argv);
          normalizeOptions(options, { REPO_ROOT: ROOT });
        } catch (error) {
          assertNamedRefusal(error, argv);
        }
      }),
      { numRuns: RUNS },
    );
  });

  test("numbers: anything but a valid count or number of seconds is refused naming its option", () => {
    const numeric = OPTION_TABLE.filter((spec) => spec.kind === "count" || spec.kind === "seconds");
    fc.assert(
      fc.property(
        fc.constantFrom(...numeric),
        fc.oneof(fc.string({ maxLength: 12 }), fc.double().map(String)),
        (spec, value) => {
          try {
            const resolved = normalizeOptions(parseCommandLine([`--${spec.flag}`, value]), {
              REPO_ROOT: ROOT,
            });
            // What is accepted is what the timers and the HTTP layer take: whole milliseconds.
            for (const ms of [resolved.timeoutMs, resolved.circuitTtlMs, resolved.waitLockMs])
              assert.ok(Number.isInteger(ms), `${spec.flag} ${value} → ${ms} ms`);
            if (resolved.deadlineMs !== undefined) assert.ok(Number.isInteger(resolved.deadlineMs));
          } catch (error) {
            if (!(error instanceof UsageError)) throw error;
            assert.ok(error instanceof UsageError);
            assert.equal(error.argument, `--${spec.flag}`);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  test("no name taken from a URL path ever leaves the artifact root", () => {
    fc.assert(
      fc.property(fc.array(nasty, { minLength: 1, maxLength: 4 }), (segments) => {
        const pathname = `/${segments.join("/")}`;
        let name: string;
        try {
          name = nameFromUrlPath(pathname, "SOURCE");
        } catch (error) {
          assert.ok(error instanceof UsageError);
          return;
        }
        const destination = resolve(ROOT, name);
        assert.ok(destination.startsWith(ROOT + sep), `${pathname} → ${destination}`);
        assert.equal(join(ROOT, name), destination, "no normalisation surprise");
        assert.ok(!name.includes("/") && !name.includes("\\") && name !== ".." && name !== ".");
      }),
      { numRuns: RUNS * 3 },
    );
  });

  test("any URL-ish text parses to a valid source or a named refusal", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.webUrl({ withQueryParameters: true, withFragments: true }),
          nasty.map((s) => `http://${s}`),
          nasty,
        ),
        (text) => {
          try {
            const location = parseSourceLocation(text, "--source-url");
            assert.ok(location.kind === "http" || location.kind === "file");
            if (location.kind === "http") {
              const shown = new URL(location.display);
              assert.ok(shown.username === "" || shown.username === "***", location.display);
              assert.equal(shown.password, "", "no password is ever shown");
            }
          } catch (error) {
            assert.ok(error instanceof UsageError);
            assert.equal(error.argument, "--source-url");
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  test("an http source's path and display, read off its href, are what the URL parser says", () => {
    const oddities = fc.constantFrom(
      "http://user:p%2Fw@host/a/b?c=d#e",
      "http://[::1]:8080/a?b#c",
      "http://host?x=/y",
      "http://host#frag/with?query",
      "https://h/%3F%23/x?y#z?",
      "http://u@h:1/?#",
      "HTTP://Host.Example:80/./a/../b/",
      "http://h/a b/c\\d?e f#g h",
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.webUrl({
            withQueryParameters: true,
            withFragments: true,
            authoritySettings: { withUserInfo: true, withIPv6: true, withPort: true },
          }),
          nasty.map((s) => `http://h/${s}`),
          nasty.map((s) => `https://${s}`),
          oddities,
        ),
        (text) => {
          let location: ReturnType<typeof parseSourceLocation>;
          try {
            location = parseSourceLocation(text, "SOURCE");
          } catch {
            return; // refusals: the test above
          }
          if (location.kind !== "http") return;
          assert.equal(httpPathname(location.href), new URL(location.href).pathname, location.href);
          assert.equal(location.display, redactUrl(location.href), "redacted as from the text");
        },
      ),
      { numRuns: RUNS * 3 },
    );
  });

  test("checksum parsing: valid digests round-trip, everything else is a named refusal", () => {
    const algorithms = { sha256: 64, sha512: 128, sha1: 40, md5: 32 } as const;
    fc.assert(
      fc.property(
        fc.constantFrom(...(Object.keys(algorithms) as Array<keyof typeof algorithms>)),
        fc.boolean(),
        fc.option(fc.webUrl(), { nil: undefined }),
        (algorithm, upper, source) => {
          const hex = "0123456789abcdef".repeat(8).slice(0, algorithms[algorithm]);
          const text = `${source === undefined ? "" : `${source}=`}${algorithm}:${upper ? hex.toUpperCase() : hex}`;
          const parsed = parseChecksumArgument(text, "sha256");
          assert.deepEqual(parsed, { source, algorithm, hex });
        },
      ),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 140 }), (text) => {
        try {
          const parsed = parseChecksumArgument(text, "sha256");
          assert.match(parsed.hex, /^[0-9a-f]+$/);
        } catch (error) {
          assert.ok(error instanceof UsageError);
          assert.equal(error.argument, "--checksum");
        }
      }),
      { numRuns: RUNS },
    );
  });
});
