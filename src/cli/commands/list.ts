// `nodepool list`: every node, as the original nodepool prints it, then a line for each label
// below its min-ready with the last launch failure of that label (the failed rows are gone).
import type { Command } from 'commander';
import type { Config } from '../../config.js';
import { formatAge } from '../../duration.js';
import type { LaunchFailure, NodeRecord } from '../../model.js';
import type { CliContext } from '../context.js';
import { formatTable, type Cell } from '../table.js';
import { parseCount, watch, watchIntervalMs } from '../watch.js';

/**
 * Nodepool 0.x's columns first, in its order (NodeName is the node's name on its master, which is
 * its hostname here), then ours. Add a column by adding a row here.
 */
const COLUMNS: readonly { header: string; cell: (n: NodeRecord, now: number) => Cell }[] = [
  { header: 'ID', cell: (n) => n.id },
  { header: 'Provider', cell: (n) => n.provider },
  { header: 'AZ', cell: (n) => n.az },
  { header: 'Label', cell: (n) => n.label },
  { header: 'Target', cell: (n) => n.target },
  { header: 'Hostname', cell: (n) => n.hostname },
  { header: 'NodeName', cell: (n) => n.hostname },
  { header: 'Server ID', cell: (n) => n.serverId },
  { header: 'IP', cell: (n) => n.ip },
  { header: 'State', cell: (n) => n.state },
  { header: 'Age', cell: (n, now) => formatAge(now - n.stateTime) },
  // Ours, after the 0.x columns. Image: the baked image version it booted, or `base` (its base-image).
  { header: 'Image', cell: (n) => n.imageVersion ?? (n.imageId ? 'base' : null) },
  { header: 'Comment', cell: (n) => n.comment },
];

export const NODE_COLUMNS = COLUMNS.map((c) => c.header);

export function nodeTable(nodes: readonly NodeRecord[], now: number): string {
  return formatTable(
    NODE_COLUMNS,
    nodes.map((n) => COLUMNS.map((c) => c.cell(n, now))),
  );
}

/** "12s", "1m12s", "2h5m", "3d4h": how long ago, to the two largest units. */
export function formatAgo(ms: number): string {
  let s = Math.max(0, Math.floor(ms / 1000));
  const parts: [number, string][] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    parts.push([Math.floor(s / size), unit]);
    s %= size;
  }
  parts.push([s, 's']);
  const first = parts.findIndex(([v]) => v > 0);
  if (first < 0) return '0s';
  return parts
    .slice(first, first + 2)
    .filter(([v], i) => i === 0 || v > 0)
    .map(([v, u]) => `${v}${u}`)
    .join('');
}

/** One line per label with fewer ready nodes than min-ready. Pure. */
export function belowMinReady(cfg: Config, nodes: readonly NodeRecord[], lastFailure: (label: string) => LaunchFailure | undefined, now: number): string[] {
  const lines: string[] = [];
  for (const label of cfg.labels) {
    const want = label['min-ready'];
    const ready = nodes.filter((n) => n.label === label.name && n.state === 'ready').length;
    if (want <= 0 || ready >= want) continue;
    const f = lastFailure(label.name);
    const why = f ? `last failure ${formatAgo(now - f.time)} ago on ${f.provider}: ${f.message.replace(/[\r\n\t]+/g, ' ')}` : 'no launch failure recorded';
    lines.push(`label ${label.name}: ${ready}/${want} ready; ${why}`);
  }
  return lines;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('list')
    .description('list nodes (age is the time spent in the current state, DD:HH:MM:SS), then labels below min-ready')
    .option('--json', 'print a JSON array of node records')
    .option('--watch [seconds]', 'redraw every N seconds (default 2) until Ctrl-C')
    .option('--count <n>', 'with --watch: stop after N redraws', parseCount)
    .action(async (opts: { json?: boolean; watch?: string | boolean; count?: number }, cmd: Command) => {
      // The summary needs min-ready from the config; without a readable config the table stands alone.
      let cfg: Config | null = null;
      if (!opts.json) {
        try {
          cfg = ctx.loadConfig(cmd);
        } catch {
          cfg = null;
        }
      }
      const render = async (): Promise<string> => {
        const now = ctx.io.clock.now();
        const { nodes, failures } = await ctx.withStore(cmd, async (store) => ({
          nodes: await store.listNodes(),
          failures: cfg ? await store.listLaunchFailures({ limit: 1000 }) : [],
        }));
        if (opts.json) return JSON.stringify(nodes, null, 2);
        const summary = cfg ? belowMinReady(cfg, nodes, (label) => failures.find((f) => f.label === label), now) : [];
        return nodeTable(nodes, now) + (summary.length ? `\n${summary.join('\n')}\n` : '');
      };
      const intervalMs = watchIntervalMs(opts.watch);
      if (intervalMs === null) return ctx.print(await render());
      await watch(ctx.io, { intervalMs, count: opts.count, title: 'nodepool list' }, render);
    });
}
