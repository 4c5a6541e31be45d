/** The figures of a progress line in words: sizes, durations, a rate that follows the link, and bytes, %, rate and ETA together; text fitted to terminal columns. */
import stringWidth from "string-width";

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${UNITS[unit]}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

/** Bytes per second over the last few seconds: it follows a link that speeds up or stalls. */
export class RateMeter {
  readonly #samples: [number, number][] = [];
  #bytes = 0;

  constructor(private readonly windowMs = 5000) {}

  add(now: number, bytes: number): void {
    this.#bytes += bytes;
    this.#samples.push([now, this.#bytes]);
    while (
      this.#samples.length > 2 &&
      now - (this.#samples[0] as [number, number])[0] > this.windowMs
    )
      this.#samples.shift();
  }

  /** Bytes per second at `now`, 0 before two samples. */
  perSecond(now: number): number {
    const first = this.#samples[0];
    if (!first || this.#samples.length < 2) return 0;
    const span = Math.max(now - first[0], 1);
    return ((this.#bytes - first[1]) * 1000) / span;
  }
}

/** `6.0 MiB / 12 MiB · 50% · 4.0 MiB/s · ETA 1.5 s`, the parts that are known. */
export function progressText(done: number, total: number | undefined, rate: number): string {
  const parts = [
    total === undefined ? formatBytes(done) : `${formatBytes(done)} / ${formatBytes(total)}`,
  ];
  if (total !== undefined && total > 0)
    parts.push(`${Math.floor((100 * Math.min(done, total)) / total)}%`);
  parts.push(`${formatBytes(Math.round(rate))}/s`);
  if (total !== undefined && rate > 0 && done < total)
    parts.push(`ETA ${formatDuration(((total - done) / rate) * 1000)}`);
  return parts.join(" · ");
}

/**
 * The longest start of `text` that fits in `columns` terminal columns. Columns, not characters:
 * a CJK character or an emoji takes two, a combining accent none, so a name cut by its length
 * pushed a bar line past the edge, where wrapping is off (string-width measures, as cli-progress
 * does its own bars).
 */
export function fitColumns(text: string, columns: number): string {
  if (text.length <= columns && stringWidth(text) === text.length) return text;
  let used = 0;
  let end = 0;
  for (const char of text) {
    const width = stringWidth(char);
    if (used + width > columns) break;
    used += width;
    end += char.length;
  }
  return text.slice(0, end);
}

/** `text` cut, or padded with spaces, to exactly `columns` terminal columns. */
export function padColumns(text: string, columns: number): string {
  const fitted = fitColumns(text, columns);
  return fitted + " ".repeat(Math.max(0, columns - stringWidth(fitted)));
}

/** The terminal columns `text` takes. */
export function columnsOf(text: string): number {
  return stringWidth(text);
}
