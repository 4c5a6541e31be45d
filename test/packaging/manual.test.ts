/**
 * The man page and the completions the package ships, as their tools read them: `man -l`
 * renders the page without a warning, bash parses and runs the completion, zsh parses its own.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { OPTION_TABLE } from "../../src/options/table.js";

const dist = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const OVERSTRIKE = new RegExp(`.${String.fromCharCode(8)}`, "g");
const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;

describe("the shipped manual and completions", () => {
  test("man -l renders every option, with no warning", {
    skip: has("man") ? false : "man is not installed",
  }, () => {
    const page = spawnSync("man", ["--warnings", "-l", dist("man/resilient-sync.1")], {
      encoding: "utf8",
      env: {
        ...process.env,
        MANWIDTH: "200",
        MAN_KEEP_FORMATTING: "0",
        MANPAGER: "cat",
        PAGER: "cat",
      },
    });
    assert.equal(page.status, 0, page.stderr);
    assert.equal(page.stderr, "", "no roff warning");
    // Overstrikes (`c BS c` for bold) removed: the text a reader sees.
    const text = page.stdout.replace(OVERSTRIKE, "");
    for (const spec of OPTION_TABLE) assert.ok(text.includes(`--${spec.flag}`), spec.flag);
    for (const section of ["SYNOPSIS", "OPTIONS", "EXIT STATUS", "ENVIRONMENT", "EXAMPLES"])
      assert.ok(text.includes(section), section);
  });

  test("bash parses the completion and completes flags and choices", () => {
    const script = dist("completions/resilient-sync.bash");
    assert.equal(spawnSync("bash", ["-n", script]).status, 0);
    const complete = (words: string[]) =>
      spawnSync(
        "bash",
        [
          "-c",
          `source "$0"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _resilient_sync; printf '%s\\n' "\${COMPREPLY[@]}"`,
          script,
        ],
        { encoding: "utf8" },
      )
        .stdout.trim()
        .split("\n");
    assert.deepEqual(complete(["resilient-sync", "--destin"]), ["--destination"]);
    assert.deepEqual(complete(["resilient-sync", "--log-level", "w"]).sort(), ["warn", "warning"]);
    assert.deepEqual(complete(["resilient-sync", "--checksum-algorithm", "bl"]), ["blake3"]);
  });

  test("zsh parses its completion", { skip: has("zsh") ? false : "zsh is not installed" }, () => {
    const parsed = spawnSync("zsh", ["-n", dist("completions/_resilient-sync")], {
      encoding: "utf8",
    });
    assert.equal(parsed.status, 0, parsed.stderr);
  });
});
