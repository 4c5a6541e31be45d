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
