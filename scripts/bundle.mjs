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
  // The hash worker's thread is a file of its own, next to the chunk that starts it
  // (`new URL("./hash-thread.js", import.meta.url)` resolves in dist/cli/ as in dist/src/).
  entryPoints: {
    main: "dist/src/cli/main.js",
    "hash-thread": "dist/src/checksums/hash-thread.js",
  },
  outdir: "dist/cli",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
  logLevel: "warning",
});
