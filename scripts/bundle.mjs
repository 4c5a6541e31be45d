/**
 * Bundles the compiled CLI (dist/src/cli/main.js) into dist/cli/: one CommonJS file for the
 * command and one for the hash thread, instead of the ~100 ES modules tsc emits. npm packages
 * stay external, `require`d by the module that uses them, so they load only when it first runs
 * (undici only when a request goes through it, bullmq and ioredis only for the fleet …).
 *
 * Why one CommonJS file (docs/performance.md, "Cold code: one CommonJS file …"):
 * - Node 20's ESM loader resolves, reads (asynchronously), links and compiles each module one by
 *   one; a CommonJS file is read and compiled once. A one-URL no-op run took ~15 ms less
 *   (111 → 95–99 ms).
 * - In ES modules every imported binding is read through a module cell with a check that it is
 *   initialised; esbuild's CommonJS output holds the whole program in one scope of plain
 *   variables. Code that has not been optimised yet — all of it, in the first few hundred files
 *   of a batch — runs faster: a 1,000-file no-op re-run took 4–7 % less, W2 4–5 % less.
 * The modules main.ts loads with `await import()` (the sync machinery, --help, the progress
 * bars, the fleet) become functions run on first use, so their top-level code still runs only
 * when needed. The whole file is compiled at start, function bodies only pre-parsed (V8 compiles
 * each when first called): `--version` did not get slower.
 *
 * dist/cli/package.json says `"type": "commonjs"`: the files keep their `.js` names (the `bin`,
 * the docs and every test call dist/cli/main.js) inside a package that is otherwise ESM.
 */
import { writeFileSync } from "node:fs";
import { build } from "esbuild";

await build({
  // The hash worker's thread is a file of its own, next to the command
  // (`new URL("./hash-thread.js", import.meta.url)` resolves in dist/cli/ as in dist/src/).
  entryPoints: {
    main: "dist/src/cli/main.js",
    "hash-thread": "dist/src/checksums/hash-thread.js",
  },
  outdir: "dist/cli",
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  packages: "external",
  // CommonJS has no import.meta: each file's own URL, computed once when it loads. The banner
  // goes above esbuild's own "use strict", which would then no longer be the first statement:
  // it says it first, so the code stays as strict as the ES modules it came from.
  define: { "import.meta.url": "__resilientSyncFileUrl" },
  banner: {
    js: '"use strict";\nconst __resilientSyncFileUrl = require("node:url").pathToFileURL(__filename).href;',
  },
  logLevel: "warning",
});
writeFileSync("dist/cli/package.json", `${JSON.stringify({ type: "commonjs" })}\n`);
