import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { renderOptionsMarkdown } from "../src/cli/help.js";

test("docs/command-line.md's option table is the one the option table renders", async () => {
  const readme = await readFile(new URL("../../docs/command-line.md", import.meta.url), "utf8");
  const start = readme.indexOf("<!-- options:start -->\n");
  const end = readme.indexOf("<!-- options:end -->");
  assert.ok(start >= 0 && end > start, "docs/command-line.md has the options markers");
  const table = readme.slice(start + "<!-- options:start -->\n".length, end);
  assert.equal(
    table,
    renderOptionsMarkdown(),
    "regenerate with: node -e 'import(\"./dist/src/cli/help.js\").then(m=>process.stdout.write(m.renderOptionsMarkdown()))'",
  );
});
