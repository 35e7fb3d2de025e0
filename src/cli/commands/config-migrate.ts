// `nodepool config-migrate FILE [-s SECURE] [-o OUT]`: a Nodepool 0.x file (and its secure.conf)
// written out as an equivalent native file, with comments saying what changed. Secrets become
// ${ENV} references; their variable names (never their values) are listed on stderr.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseConfig } from '../../config.js';
import { parseV0Config } from '../../config/v0/index.js';
import { ESCAPED_NOTE, migrateV0 } from '../../config/v0/migrate.js';
import { ConfigError } from '../../errors.js';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('config-migrate')
    .description('write a Nodepool 0.x config (with -s secure.conf) as an equivalent native config')
    .argument('<file>', 'the 0.x nodepool.yaml')
    .option('-o, --output <file>', 'write the native config here (default: stdout)')
    .action((file: string, opts: { output?: string }, cmd: Command) => {
      const { secure } = ctx.globals(cmd);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        return cmd.error(`error: ${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
      let result;
      try {
        result = parseV0Config(text, file, ctx.io.env, { secure });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        for (const line of err.problems) ctx.io.err.write(`${line}\n`);
        ctx.exitCode = 1;
        return;
      }
      if (!result) return cmd.error(`error: ${file} is not a Nodepool 0.x file (no 0.x-only key); check it with config-validate`);
      const migrated = migrateV0(result, file);
      // What we write must load to the same pool: a failure here is our bug, not the operator's.
      const env = Object.fromEntries(migrated.secrets.map((s) => [s.env, s.value]));
      parseConfig(migrated.text, opts.output ?? 'migrated.yaml', env);
      // No secret is in the text (only ${ENV} references), so the usual mode will do.
      if (opts.output) writeFileSync(opts.output, migrated.text);
      else ctx.print(migrated.text);
      const err = (s: string) => ctx.io.err.write(`${s}\n`);
      err(`${file}: ${result.warnings.length} key(s) read differently from Nodepool 0.x; each is a comment in the output`);
      if (migrated.secrets.length) {
        err('secrets are ${ENV} references now; set these variables for the daemon:');
        for (const s of migrated.secrets) err(`  ${s.env}  (${s.path})${s.escaped ? ESCAPED_NOTE : ''}`);
      }
      if (opts.output) err(`wrote ${opts.output}`);
    });
}
