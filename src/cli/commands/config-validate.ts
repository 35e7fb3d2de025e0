// `nodepool config-validate [FILE]`: checks the config file (default: the one named by -c) and
// reports every problem.
import type { Command } from 'commander';
import { configValidate } from '../config-validate.js';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('config-validate')
    .description('check the config file and print every problem with its file, line and key')
    .argument('[file]', 'config file to check (default: the -c file)')
    .action((file: string | undefined, _opts: unknown, cmd: Command) => {
      const { config, secure } = ctx.globals(cmd);
      const code = configValidate(file ?? config, ctx.io.env, (line) => ctx.print(line), { secure });
      if (code !== 0) ctx.exitCode = code;
    });
}
