/** `--help` text and README's option table, both rendered from the option table. */
import type { OptionSpec } from "../options/spec.js";
import { OPTION_TABLE } from "../options/table.js";

/** How a default reads in `--help` and README: `defaultText`, else the value (`off` for false). */
export function defaultShown(spec: OptionSpec): string | undefined {
  if (spec.defaultText !== undefined) return spec.defaultText;
  if (spec.default === undefined) return undefined;
  if (typeof spec.default === "boolean") return spec.default ? "on" : "off";
  return String(spec.default);
}

function flagText(spec: OptionSpec): string {
  const long = `--${spec.flag}${spec.value ? ` ${spec.value}` : ""}`;
  return spec.short ? `-${spec.short}, ${long}` : long;
}

export function renderHelp(version: string): string {
  const lines = [
    `resilient-sync ${version}`,
    "Copy http(s) URLs, file URLs and local files to local destinations and keep them in sync:",
    "locked, retried, resumed, verified while streaming, committed atomically.",
    "",
    "Usage:",
    "  resilient-sync [options]                      sync --source-url to --destination (default: the bundled sample)",
    "  resilient-sync [options] SOURCE ...           sync each SOURCE to --artifact-root/<name>",
    "",
  ];
  const groups = [...new Set(OPTION_TABLE.map((spec) => spec.group))];
  for (const group of groups) {
    lines.push(`${group}:`);
    for (const spec of OPTION_TABLE.filter((s) => s.group === group)) {
      const shown = defaultShown(spec);
      const defaultText = shown ? ` (default: ${shown})` : "";
      lines.push(`  ${flagText(spec).padEnd(38)} ${spec.help}${defaultText}`);
    }
    lines.push("");
  }
  lines.push(
    "Exit codes: 0 ok or up to date, 1 partial failure, 42 unfit environment, 64 invalid arguments,",
    "65 checksum mismatch, 70 transfer failed, 73 destination not writable, 75 circuit open,",
    "130/143 interrupted.",
    "<root> is $REPO_ROOT, else the folder holding resilient-sync's package.json.",
  );
  return `${lines.join("\n")}\n`;
}

/** The option table as markdown, for README.md (a test keeps the two equal). */
export function renderOptionsMarkdown(): string {
  const rows = ["| option | default | meaning |", "|---|---|---|"];
  for (const spec of OPTION_TABLE) {
    const flag = flagText(spec).replace(/\|/g, "\\|");
    rows.push(
      `| \`${flag}\` | ${defaultShown(spec) ? `\`${defaultShown(spec)}\`` : ""} | ${spec.help} |`,
    );
  }
  return `${rows.join("\n")}\n`;
}
