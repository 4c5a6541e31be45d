/**
 * Which query of a directory source's URL is dropped for its own index page: Apache's index
 * options alone (the order of a URL copied after clicking a column header), nothing else.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { indexPageOf } from "../../src/run/remote-walk.js";

describe("a directory source's index page", () => {
  test("drops a query of Apache's index options only, with Apache's values; keeps any other", () => {
    const base = "http://h/pub/";
    for (const query of ["?C=N;O=D", "?C=M&O=A", "?O=D", "?C=S;O=D#top", "?C=N;O=A;F=2;V=1"])
      assert.equal(indexPageOf(`${base}${query}`), base, query);
    for (const query of ["?V=abc123sig", "?F=9", "?C=M;O=D;P=*.iso", "?token=x", "?c=m;o=d", "?"])
      assert.equal(indexPageOf(`${base}${query}`), `${base}${query}`, query);
    assert.equal(indexPageOf(base), base);
  });
});

describe("what a page keeps of its links", () => {
  test("an entry linked twice (Apache's icon and name) counts once against the bound (it counted twice)", async () => {
    const { keeper } = await import("../../src/run/remote-walk.js");
    const { classifyLink } = await import("../../src/sources/http/index-links.js");
    const { SyncError } = await import("../../src/errors.js");
    const root = new URL("http://127.0.0.1:8080/pub/");
    const tooMany = new SyncError("invalid_source", "too many");
    const kept = keeper(Number.POSITIVE_INFINITY, () => true, 2, tooMany);
    for (const href of ["a.bin", "a.bin", "sub/", "sub/", "./a.bin", "%61.bin", "%73ub/"])
      kept.add(classifyLink(href, root, root));
    assert.deepEqual(
      kept.result().map((link) => (link.kind === "outside" ? link.href : link.url.pathname)),
      ["/pub/a.bin", "/pub/sub/"],
    );
    assert.throws(() => kept.add(classifyLink("b.bin", root, root)), tooMany);
  });
});
