// Every benchmark reports rows against the bound it states; run.ts prints them as one table.

export interface BenchRow {
  benchmark: string;
  metric: string;
  value: number;
  unit: string;
  /** The bound the benchmark states; ratio = value / bound (lower is better unless noted). */
  bound: number;
  note?: string;
}

export function formatTable(rows: readonly BenchRow[]): string {
  const cells = [
    ['benchmark', 'metric', 'value', 'bound', 'ratio', 'note'],
    ...rows.map((r) => [r.benchmark, r.metric, `${fmt(r.value)} ${r.unit}`, `${fmt(r.bound)} ${r.unit}`, `${(r.value / r.bound).toFixed(2)}x`, r.note ?? '']),
  ];
  const widths = cells[0].map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(n < 10 ? 3 : 1);
}
