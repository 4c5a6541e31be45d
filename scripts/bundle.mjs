/**
 * Bundles the compiled CLI (dist/src/cli/main.js) into dist/cli/: a handful of files instead of
 * the ~100 modules tsc emits. Why: Node 20's ESM loader resolves, reads (asynchronously) and
 * compiles each module one by one, and for a tiny sync that was ~45 ms of a ~200 ms run (see
 * CHANGELOG). Code splitting keeps what main.ts loads with `await import()` (the sync machinery,
 * --help, the progress bars, proxies, segmented transfers) in chunks of its own, still loaded
 * only when needed; npm packages stay external (`undici` must stay lazy: bundling it in would
 * load it on every run).
 */
import { build } from "esbuild";

await build({
  entryPoints: ["dist/src/cli/main.js"],
  outdir: "dist/cli",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
  logLevel: "warning",
});
