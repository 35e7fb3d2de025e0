// `npm run bench`: runs every benchmark and prints one table.
// BENCH_NODES (default 200): nodes to fill; BENCH_BUILDS (default 200): onStarted samples.
import { formatTable, type BenchRow } from './report.js';
import { benchFill } from './fill.js';
import { benchEvents } from './events.js';
import { benchEc2Burst } from './ec2-burst.js';

const nodes = Number(process.env.BENCH_NODES ?? 200);
const builds = Number(process.env.BENCH_BUILDS ?? 200);
const rows: BenchRow[] = [];
rows.push(...(await benchFill(nodes)));
rows.push(...(await benchEvents(builds, 20_000)));
rows.push(...(await benchEc2Burst(nodes)));
console.log(formatTable(rows));
