// `npm run bench`: runs every benchmark and prints one table. N via BENCH_NODES (default 200).
import { formatTable, type BenchRow } from './report.js';
import { benchFill } from './fill.js';

const n = Number(process.env.BENCH_NODES ?? 200);
const rows: BenchRow[] = [];
rows.push(...(await benchFill(n)));
console.log(formatTable(rows));
