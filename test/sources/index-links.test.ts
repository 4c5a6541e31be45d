/** What each link of an index page is to the directory being mirrored (no network). */
import assert from "node:assert/strict";
import { join, resolve, sep } from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import { classifyLink } from "../../src/sources/http/index-links.js";
import { IndexLinkReader } from "../../src/sources/http/index-reader.js";

const ROOT = new URL("http://example.com:8080/pub/data/");
const PAGE = new URL("http://example.com:8080/pub/data/sub/");

describe("classifyLink", () => {
  const cases: Array<[string, string]> = [
    ["a.bin", "file sub/a.bin"],
    ["deeper/", "folder sub/deeper"],
    ["with%20space%20100%25.bin", "file sub/with space 100%.bin"],
    ["%C3%A9t%C3%A9/", "folder sub/été"],
    ["raw é.bin", "file sub/raw é.bin"],
    ["a.bin#frag", "file sub/a.bin"],
    ["/pub/data/top.bin", "file top.bin"],
    ["../top.bin", "file top.bin"],
    ["../", "outside not below the directory"],
    ["../../", "outside not below the directory"],
    ["%2e%2e/%2e%2e/x.bin", "outside not below the directory"],
    ["/etc/passwd", "outside not below the directory"],
    ["?C=N;O=D", "outside a query (a sort link or a page)"],
    ["a.bin?download=1", "outside a query (a sort link or a page)"],
    ["http://example.com/pub/data/a.bin", "outside another origin"],
    ["https://example.com:8080/pub/data/a.bin", "outside another scheme"],
    ["//evil.example/pub/data/a.bin", "outside another origin"],
    ["javascript:alert(1)", "outside another scheme"],
    ["mailto:someone@example.com", "outside another scheme"],
    ["http://[::1", "outside not a URL"],
    ["..%2F..%2Fescape.bin", "unsafe an encoded / or \\ in a name"],
    ["a%5Cb.bin", "unsafe an encoded / or \\ in a name"],
    ["nul%00.bin", "unsafe a name holding control characters"],
    // C1: U+009B is a one-character CSI to some terminals; U+0085 a line break to some programs.
    ["csi%C2%9B[2J.bin", "unsafe a name holding control characters"],
    ["nel%C2%85.bin", "unsafe a name holding control characters"],
    ["%ff.bin", "unsafe a malformed percent-encoding, or a name that is not UTF-8"],
    ["x//y.bin", "unsafe an empty path segment (//)"],
    // 255 bytes is the longest name a filesystem takes: refused while planning, not mid-run.
    [`${"é".repeat(127)}x.bin`, "unsafe a name longer than 255 bytes"],
    [`${"%C3%A9".repeat(128)}/`, "unsafe a name longer than 255 bytes"],
    [`${"é".repeat(125)}x.bin`, `file sub/${"é".repeat(125)}x.bin`],
    ["x.resilient-sync.part", "unsafe a name reserved for resilient-sync's own files (part, lock)"],
    [
      ".resilient-sync-0123456789abcdef01234567.lock",
      "unsafe a name reserved for resilient-sync's own files (part, lock)",
    ],
  ];
  for (const [href, expected] of cases) {
    test(`${JSON.stringify(href)} → ${expected}`, () => {
      const link = classifyLink(href, PAGE, ROOT);
      const shown =
        "segments" in link
          ? `${link.kind} ${link.segments.join("/")}`
          : `${link.kind} ${link.reason}`;
      assert.equal(shown, expected);
    });
  }

  test("a folder spelled with other escapes is the same folder (its links were dropped as outside)", async () => {
    const { isWithinDirectory } = await import("../../src/sources/http/within.js");
    const accented = new URL("http://example.com/caf%C3%A9/");
    const tilde = new URL("http://example.com/~bob/");
    const shown = (link: ReturnType<typeof classifyLink>) =>
      link.kind === "outside" || link.kind === "unsafe"
        ? `${link.kind} ${link.reason}`
        : `${link.kind} ${link.segments.join("/")}`;
    assert.equal(shown(classifyLink("/caf%c3%a9/x.bin", accented, accented)), "file x.bin");
    assert.equal(shown(classifyLink("/caf%c3%a9/sub/", accented, accented)), "folder sub");
    assert.equal(shown(classifyLink("/%7Ebob/y.bin", tilde, tilde)), "file y.bin");
    assert.equal(shown(classifyLink("/%7ebob/", tilde, tilde)), "outside not below the directory");
    assert.equal(
      shown(classifyLink("/caf%C3%A8/x.bin", accented, accented)),
      "outside not below the directory",
    );
    assert.ok(isWithinDirectory(new URL("http://example.com/%7Ebob/z.bin"), tilde));
    assert.ok(!isWithinDirectory(new URL("http://example.com/%7Ebobby/z.bin"), tilde));
  });

  test("userinfo on a link is dropped: the source's own credentials are used below it", () => {
    const link = classifyLink("http://mallory:pw@example.com:8080/pub/data/a.bin", PAGE, ROOT);
    assert.equal(link.kind, "file");
    assert.equal(link.kind === "file" && link.url.href, "http://example.com:8080/pub/data/a.bin");
  });

  test("no link ever names a path that leaves the mirror folder", () => {
    const folder = resolve("/mirror/data");
    const segment = fc.oneof(
      fc.constantFrom("..", ".", "%2e%2e", "%2E.", "%2f", "%5c", "%00", "", "a", "%ff", "é"),
      fc.string({ maxLength: 6 }),
    );
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 5 }), fc.boolean(), (segments, absolute) => {
        const href = (absolute ? "/pub/data/" : "") + segments.join("/");
        const link = classifyLink(href, PAGE, ROOT);
        if (!("segments" in link)) return;
        const path = join(folder, ...link.segments);
        assert.ok(path.startsWith(folder + sep), `${href} → ${path}`);
        assert.equal(resolve(path), path, "no normalisation surprise");
      }),
      { numRuns: 2000 },
    );
  });
});

describe("IndexLinkReader", () => {
  test("finds every <a href> across chunk boundaries, decodes entities, keeps the first <base>", () => {
    const seen: Array<[string, string | undefined]> = [];
    const reader = new IndexLinkReader({
      link: (href, base) => seen.push([href, base]),
      text: () => {},
    });
    const html =
      '<HTML><head><BASE HREF="/one/"><base href="/two/"></head><body><A HREF="a&amp;b.bin">a</A><a name="x">no href</a><a href=\'c.bin\'>c</a></body></HTML>';
    for (let at = 0; at < html.length; at += 7) reader.write(html.slice(at, at + 7));
    reader.end();
    assert.deepEqual(seen, [
      ["a&b.bin", "/one/"],
      ["c.bin", "/one/"],
    ]);
  });
});
