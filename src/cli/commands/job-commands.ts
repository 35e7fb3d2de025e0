// Nodepool 0.3's job rules, kept in the store: `job-list`, `job-create NAME --hold-on-failure N`,
// `job-delete ID`. The daemon adds them to the config's `jobs` (a stored rule comes first), so an
// operator can hold failed builds' nodes without editing the config.
import { InvalidArgumentError, type Command } from 'commander';
import { parseId } from '../args.js';
import type { CliContext } from '../context.js';
import { formatTable } from '../table.js';

function parseCount(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new InvalidArgumentError('expected a whole number of nodes (0 or more).');
  return Number(value);
}

function parseJobName(value: string): string {
  try {
    new RegExp(`^(?:${value})$`);
  } catch {
    throw new InvalidArgumentError('expected a job name or a valid regular expression.');
  }
  if (value === '') throw new InvalidArgumentError('expected a job name.');
  return value;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('job-list')
    .description('list the stored job rules (added to the config\'s jobs)')
    .option('--json', 'print a JSON array')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const jobs = await ctx.withStore(cmd, (store) => store.listJobs());
      if (opts.json) return ctx.printJson(jobs);
      ctx.print(formatTable(['ID', 'Name', 'Hold on Failure'], jobs.map((j) => [j.id, j.name, j.holdOnFailure])));
    });

  program
    .command('job-create')
    .description('store a job rule: hold up to N nodes whose build of this job failed')
    .argument('<name>', 'job name, or a regular expression anchored at both ends', parseJobName)
    .requiredOption('--hold-on-failure <n>', 'how many failed nodes of the job to hold', parseCount)
    .action(async (name: string, opts: { holdOnFailure: number }, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        const existing = (await store.listJobs()).find((j) => j.name === name);
        if (existing) return cmd.error(`error: job ${name} already has a rule (id ${existing.id}); delete it first`);
        const job = await store.createJob(name, opts.holdOnFailure);
        ctx.print(`job ${job.id} (${job.name}): hold on failure ${job.holdOnFailure}`);
      });
    });

  program
    .command('job-delete')
    .description('delete a stored job rule')
    .argument('<id>', 'rule id (see job-list)', parseId)
    .action(async (id: number, _opts: unknown, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        if (!(await store.deleteJob(id))) return cmd.error(`error: no job rule ${id}`);
        ctx.print(`job rule ${id} deleted`);
      });
    });
}
