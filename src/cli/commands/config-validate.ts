// `nodepool config-validate`: checks the config file named by -c and reports every problem.
import type { Command } from 'commander';
import { configValidate } from '../config-validate.js';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('config-validate')
    .description('check the config file (-c) and print every problem with its file, line and key')
    .action((_opts: unknown, cmd: Command) => {
      const code = configValidate(ctx.globals(cmd).config, ctx.io.env, ctx.io.out);
      if (code !== 0) ctx.exitCode = code;
    });
}
