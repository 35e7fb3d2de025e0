// `nodepool failures`: recent failed launch attempts (the daemon keeps the newest 1000), so an
// operator can see why a label stays below min-ready even though the node rows are gone.
import type { Command } from 'commander';
import { formatAge } from '../../duration.js';
import type { LaunchFailure } from '../../model.js';
import { parseDurationArg } from '../args.js';
import type { CliContext } from '../context.js';
import { formatTable } from '../table.js';

export const FAILURE_COLUMNS = ['Age', 'Provider', 'Label', 'Node', 'Hostname', 'Code', 'Message'] as const;

export function failureTable(failures: readonly LaunchFailure[], now: number): string {
  return formatTable(
    FAILURE_COLUMNS,
    failures.map((f) => [formatAge(now - f.time), f.provider, f.label, f.nodeId, f.hostname, f.code, f.message]),
  );
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('failures')
    .description('recent failed launch attempts, newest first (age DD:HH:MM:SS)')
    .option('--label <label>', 'only this label')
    .option('--provider <provider>', 'only this provider')
    .option('--since <duration>', 'only failures within this long, e.g. "1h"', parseDurationArg)
    .option('--json', 'print a JSON array of failure records')
    .action(async (opts: { label?: string; provider?: string; since?: number; json?: boolean }, cmd: Command) => {
      const now = ctx.io.clock.now();
      const failures = await ctx.withStore(cmd, (store) =>
        store.listLaunchFailures({ label: opts.label, provider: opts.provider, since: opts.since === undefined ? undefined : now - opts.since }),
      );
      if (opts.json) ctx.printJson(failures);
      else ctx.print(failureTable(failures, now));
    });
}
