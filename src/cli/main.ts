// The `nodepool` command line. Entry point (bin/nodepool.js) and in-process runner for tests.
// Commands work on the store directly, so they work while the daemon is down.
import { existsSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { systemClock } from '../clock.js';
import { commands, type CommandModule } from './commands/index.js';
import { CliContext, DEFAULT_CONFIG, DEFAULT_DB, DEFAULT_SECURE, type CliIo } from './context.js';

export type { CliIo } from './context.js';

/**
 * Builds the program with its global options and every command of commands/index.ts, plus
 * `extra` modules (e.g. the daemon). Errors throw (exitOverride) instead of exiting the process.
 */
export function buildProgram(io: CliIo, extra: readonly CommandModule[] = []): { program: Command; ctx: CliContext } {
  const ctx = new CliContext(io);
  const program = new Command('nodepool')
    .description('keep a pool of single-use cloud VMs ready for CI')
    .option('--db <path>', 'SQLite database file (env NODEPOOL_DB)', io.env.NODEPOOL_DB || DEFAULT_DB)
    .option('-c, --config <file>', 'config file (env NODEPOOL_CONFIG)', io.env.NODEPOOL_CONFIG || DEFAULT_CONFIG)
    .option(
      '-s, --secure <file>',
      `Nodepool 0.x secure.conf, read with a 0.x-format config (env NODEPOOL_SECURE; default ${DEFAULT_SECURE} when present)`,
      io.env.NODEPOOL_SECURE || (existsSync(DEFAULT_SECURE) ? DEFAULT_SECURE : undefined),
    )
    .configureOutput({ writeOut: (s) => void io.out.write(s), writeErr: (s) => void io.err.write(s) })
    .exitOverride()
    .showSuggestionAfterError();
  // Settings above are inherited by the subcommands registered below.
  for (const mod of [...commands, ...extra]) mod.register(program, ctx);
  return { program, ctx };
}

/** Exit codes: 0 done, 1 failed (the command ran and said why), 2 the command line is wrong (as argparse in 0.x). */
export const EXIT_USAGE = 2;
const USAGE_ERRORS = new Set([
  'commander.unknownCommand',
  'commander.unknownOption',
  'commander.missingArgument',
  'commander.optionMissingArgument',
  'commander.missingMandatoryOptionValue',
  'commander.excessArguments',
  'commander.invalidArgument',
  'commander.conflictingOption',
]);

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Runs one command line (without the node and script words); resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo, extra: readonly CommandModule[] = []): Promise<number> {
  const { program, ctx } = buildProgram(io, extra);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    // Commander has already printed its own message (usage errors, --help, cmd.error()).
    if (err instanceof CommanderError) return USAGE_ERRORS.has(err.code) ? EXIT_USAGE : err.exitCode;
    // An operator sees one message, never a stack trace.
    io.err.write(`error: ${errorMessage(err)}\n`);
    return 1;
  }
}

export async function main(argv: readonly string[] = process.argv.slice(2), extra: readonly CommandModule[] = []): Promise<number> {
  return runCli(argv, { out: process.stdout, err: process.stderr, env: process.env, clock: systemClock }, extra);
}
