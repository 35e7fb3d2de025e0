// For commands that read every configured cloud (alien-list, alien-image-list): a driver per
// provider, closed afterwards; one unreachable cloud is reported and sets exit 1 without hiding
// what the others answered.
import type { ProviderConfig } from '../config.js';
import { silentLogger } from '../log.js';
import { createDriver } from '../../providers/registry.js';
import type { ProviderDriver } from '../../providers/provider.js';
import type { CliContext } from './context.js';

export async function fromEachCloud<T>(ctx: CliContext, providers: readonly ProviderConfig[], read: (cfg: ProviderConfig, driver: ProviderDriver) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (const cfg of providers) {
    try {
      const driver = createDriver(cfg, { clock: ctx.io.clock, log: silentLogger });
      try {
        out.push(...(await read(cfg, driver)));
      } finally {
        await driver.close();
      }
    } catch (err) {
      ctx.io.err.write(`error: provider ${cfg.name}: ${err instanceof Error ? err.message : String(err)}\n`);
      ctx.exitCode = 1;
    }
  }
  return out;
}
