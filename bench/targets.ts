/**
 * The speed issue's targets, each as a ratio computed from the rows of one bench run (peers
 * measured in the same run, alternating): what the target is, what was measured, met or not.
 * A target whose rows are missing (a workload not run, a peer not installed) says so. Beside
 * ours, the same ratio for a reference row of the same run: for W2 and W3 the lean Node floor,
 * which keeps the tool's per-file promises and does nothing else (a target that floor misses is
 * out of a Node program's reach on this machine); for W1 curl followed by an fsync of its file,
 * a reference only (no hash, no rename, its fsync after the transfer instead of during it).
 */

/** What a target needs of a bench row. */
export interface MeasuredRow {
  workload: string;
  contender: string;
  unit: "s" | "files/s" | "MiB";
  value: number | undefined;
  peakRssMiB?: number | undefined;
}

interface Target {
  name: string;
  /** The measured figure, or why there is none. */
  measure(find: (workload: string, contender: string) => MeasuredRow | undefined): number | string;
  /** Met when the figure is at most (`max`) or at least (`min`) this. */
  bound: { max: number } | { min: number };
  unit: "×" | "MiB";
  /** The same ratio for a reference row of the run (see above), and what that row is. */
  reference?: {
    label: string;
    measure(
      find: (workload: string, contender: string) => MeasuredRow | undefined,
    ): number | string;
  };
}

/** ours ÷ peer: a time ratio (below 1: faster), or for files/s a rate ratio (above 1: faster). */
const ratio =
  (workload: string, ours: string, peer: string) =>
  (find: (w: string, c: string) => MeasuredRow | undefined): number | string => {
    const a = find(workload, ours)?.value;
    const b = find(workload, peer)?.value;
    if (a === undefined || b === undefined) return `${workload}: ${ours} or ${peer} not measured`;
    return a / b;
  };

/** curl -o with the file's data fsynced after it: what the disk charges for an fsync. Not a floor. */
const DURABLE_CURL = {
  label: "reference, not a floor: curl -o, then sync FILE",
  measure: ratio("W1 1 GiB", "curl -o, then sync FILE", "curl -o"),
};

const TARGETS: Target[] = [
  {
    name: "W1 1 GiB, SHA-256, fsync, rename: time ÷ curl -o",
    measure: ratio("W1 1 GiB", "resilient-sync", "curl -o"),
    bound: { max: 1.15 },
    unit: "×",
    reference: DURABLE_CURL,
  },
  {
    name: "W1 1 GiB with --checksum-algorithm blake3: time ÷ curl -o",
    measure: ratio("W1 1 GiB", "resilient-sync blake3", "curl -o"),
    bound: { max: 1.0 },
    unit: "×",
    reference: DURABLE_CURL,
  },
  {
    name: "peak RSS of a 1 GiB transfer",
    measure: (find) => find("W1 1 GiB", "resilient-sync")?.peakRssMiB ?? "not measured",
    bound: { max: 80 },
    unit: "MiB",
  },
  {
    name: "peak RSS of a 4 GiB transfer",
    measure: (find) => find("W1 4 GiB (memory)", "resilient-sync")?.peakRssMiB ?? "not measured",
    bound: { max: 80 },
    unit: "MiB",
  },
  {
    name: "W2 1,000 × 16 KiB, 8 at once, durable: files/s ÷ aria2c -j8",
    measure: ratio("W2 1,000 × 16 KiB", "resilient-sync", "aria2c -j8"),
    bound: { min: 2 },
    unit: "×",
    reference: {
      label: "lean Node floor",
      measure: ratio("W2 1,000 × 16 KiB", "lean Node floor", "aria2c -j8"),
    },
  },
  {
    name: "W3 no-op re-run of 1,000 files: time ÷ wget -N",
    measure: ratio("W3 no-op re-run", "resilient-sync", "wget -N"),
    bound: { max: 1.5 },
    unit: "×",
    reference: {
      label: "lean Node floor",
      measure: ratio("W3 no-op re-run", "lean Node floor", "wget -N"),
    },
  },
  {
    name: "W3 no-op re-run of 10,000 files: time ÷ wget -N",
    measure: ratio("W3 no-op re-run, 10,000 files", "resilient-sync", "wget -N"),
    bound: { max: 1.0 },
    unit: "×",
    reference: {
      label: "lean Node floor",
      measure: ratio("W3 no-op re-run, 10,000 files", "lean Node floor", "wget -N"),
    },
  },
  {
    name: "a tiny http sync: time ÷ node -e 0",
    measure: ratio("W5 start-up", "resilient-sync tiny http sync", "node -e 0"),
    bound: { max: 2 },
    unit: "×",
  },
  {
    name: "--version: time ÷ node -e 0",
    measure: ratio("W5 start-up", "resilient-sync --version", "node -e 0"),
    bound: { max: 1.5 },
    unit: "×",
  },
];

/** The targets as a markdown table, from `rows`. */
export function targetsTable(rows: readonly MeasuredRow[]): string {
  const find = (workload: string, contender: string) =>
    rows.find((row) => row.workload === workload && row.contender === contender);
  const lines = [
    "| target | bound | measured | met | same ratio for a reference |",
    "|---|---|---|---|---|",
  ];
  for (const target of TARGETS) {
    const figure = target.measure(find);
    const limit = "max" in target.bound ? `≤ ${target.bound.max}` : `≥ ${target.bound.min}`;
    const bound = target.unit === "MiB" ? `${limit} MiB` : `${limit}×`;
    const referenceFigure = target.reference?.measure(find);
    const reference =
      target.reference === undefined
        ? ""
        : typeof referenceFigure === "number"
          ? `${referenceFigure.toFixed(2)}× (${target.reference.label})`
          : `— (${referenceFigure})`;
    if (typeof figure === "string") {
      lines.push(`| ${target.name} | ${bound} | — | ${figure} | ${reference} |`);
      continue;
    }
    const met = "max" in target.bound ? figure <= target.bound.max : figure >= target.bound.min;
    const shown = target.unit === "MiB" ? `${figure.toFixed(0)} MiB` : `${figure.toFixed(2)}×`;
    lines.push(
      `| ${target.name} | ${bound} | ${shown} | ${met ? "met" : "not met"} | ${reference} |`,
    );
  }
  return lines.join("\n");
}
