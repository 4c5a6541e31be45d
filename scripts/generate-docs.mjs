/**
 * Writes what the package ships beside the program, rendered from the option table: the man page
 * (dist/man/resilient-sync.1) and the bash and zsh completions (dist/completions/). Run by
 * `npm run build` after tsc.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import {
  renderBashCompletion,
  renderManPage,
  renderZshCompletion,
} from "../dist/src/cli/manual.js";

const { version } = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8"));
const dist = new URL("../dist/", import.meta.url);
await mkdir(new URL("man/", dist), { recursive: true });
await mkdir(new URL("completions/", dist), { recursive: true });
await writeFile(new URL("man/resilient-sync.1", dist), renderManPage(version));
await writeFile(new URL("completions/resilient-sync.bash", dist), renderBashCompletion());
await writeFile(new URL("completions/_resilient-sync", dist), renderZshCompletion());
