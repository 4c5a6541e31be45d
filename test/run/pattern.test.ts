import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { patternMatcher } from "../../src/run/pattern.js";

describe("--pattern", () => {
  test("globs mean what bash and fnmatch mean: [!a] and [^a] are 'not a'; ** any depth; dotfiles in", async () => {
    const cases: Array<[string, string, boolean]> = [
      ["[!a]*.txt", "a.txt", false],
      ["[!a]*.txt", "b.txt", true],
      ["[^a]*.txt", "a.txt", false],
      ["[^a]*.txt", "b.txt", true],
      ["x[!a]y", "xby", true],
      ["x[!a]y", "xay", false],
      ["x[!a]y", "x!y", true],
      ["[!a]", "b", true],
      ["[a-c].csv", "b.csv", true],
      ["[a-c].csv", "d.csv", false],
      ["[[:digit:]]*", "7days", true],
      ["*.{csv,txt}", "notes.txt", true],
      ["a?c", "abc", true],
      ["*.csv", "2026/day.csv", false],
      ["**/*.csv", "2026/11/day.csv", true],
      ["**/*.csv", "top.csv", true],
      ["**/*.csv", ".hidden.csv", true],
      ["**/*", "sub/.dot", true],
    ];
    for (const [pattern, path, expected] of cases) {
      assert.equal((await patternMatcher(pattern))(path), expected, `${pattern} ${path}`);
    }
  });
});
