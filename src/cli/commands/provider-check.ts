// `nodepool provider-check PROVIDER`: the provider contract's steps against the configured
// cloud (auth, catalog, flavors, image, quota, create, active, ssh, list, delete), one table row
// each. A hard time budget covers the whole run; a server it created is deleted even when a
// step fails or the budget runs out. Exit 0 only when every step passed.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { chooseFlavor, type CloudServer, type ProviderDriver } from '../../../providers/provider.js';
import { createDriver } from '../../../providers/registry.js';
import type { Clock } from '../../clock.js';
import type { Config, ProviderConfig } from '../../config.js';
import { errorCode, TimeoutError } from '../../errors.js';
import { META_OWNER, OWNER } from '../../model.js';
import { waitForSsh } from '../../ssh-check.js';
import type { CliContext } from '../context.js';
import { formatTable } from '../table.js';

export interface CheckStep {
  step: string;
  result: 'pass' | 'FAIL' | 'skip';
  ms: number;
  detail: string;
}

export interface ProviderCheckOptions {
  clock: Clock;
  /** Hard limit for the whole run, cleanup excluded. */
  budgetMs: number;
  /** Between polls while waiting for active / gone. */
  pollMs?: number;
  /** Made from the provider config by default. */
  driver?: ProviderDriver;
  /** Skip the SSH login even when the image checks host keys. */
  noSsh?: boolean;
}

export const CHECK_COLUMNS = ['Step', 'Result', 'ms', 'Detail'] as const;

export function checkTable(steps: readonly CheckStep[]): string {
  return formatTable(CHECK_COLUMNS, steps.map((s) => [s.step, s.result, s.ms, s.detail]));
}

/** Runs every step in order; after the first failure the rest are skipped (cleanup still runs). */
export async function runProviderCheck(cfg: ProviderConfig, opts: ProviderCheckOptions): Promise<CheckStep[]> {
  const { clock } = opts;
  const pollMs = opts.pollMs ?? 1000;
  const start = clock.now();
  const deadline = start + opts.budgetMs;
  const driver = opts.driver ?? createDriver(cfg, { clock });
  const steps: CheckStep[] = [];
  let failed = false;
  let server: CloudServer | null = null;
  let deleted = false;
  const image = cfg.images[0];

  const left = () => deadline - clock.now();
  const budgetError = (what: string) => new TimeoutError(`time budget of ${opts.budgetMs} ms spent (${what})`);

  async function step(name: string, fn: () => Promise<string>): Promise<void> {
    if (failed) {
      steps.push({ step: name, result: 'skip', ms: 0, detail: 'an earlier step failed' });
      return;
    }
    const t0 = clock.now();
    const timer = new AbortController();
    try {
      if (left() <= 0) throw budgetError(`before ${name}`);
      const detail = await Promise.race([
        fn(),
        clock.sleep(Math.max(0, left()), timer.signal).then(
          () => {
            throw budgetError(`during ${name}`);
          },
          () => new Promise<never>(() => undefined),
        ),
      ]);
      steps.push({ step: name, result: 'pass', ms: clock.now() - t0, detail });
    } catch (err) {
      failed = true;
      steps.push({ step: name, result: 'FAIL', ms: clock.now() - t0, detail: `${errorCode(err)}: ${(err as Error).message}` });
    } finally {
      timer.abort();
    }
  }

  async function poll<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (left() <= pollMs) throw budgetError(`waiting for ${what}`);
      await clock.sleep(pollMs);
    }
  }

  let flavorId = '';
  let imageId = '';
  try {
    await step('auth', async () => (driver.connect ? (await driver.connect()).auth : 'driver has no separate auth step; checked by the next call'));
    await step('catalog', async () => (driver.connect ? (await driver.connect()).catalog : 'n/a'));
    await step('flavors', async () => {
      const flavors = await driver.listFlavors();
      const f = chooseFlavor(flavors, image['min-ram'], image['name-filter']);
      if (!f) throw new Error(`none of ${flavors.length} flavors has ${image['min-ram']} MB RAM${image['name-filter'] ? ` and "${image['name-filter']}" in its name` : ''}`);
      flavorId = f.id;
      return `${flavors.length} flavors; ${f.name} (${f.vcpus} vCPU, ${f.ramMb} MB)`;
    });
    await step('image', async () => {
      const images = await driver.listImages();
      const want = image['base-image'];
      const hit = images.find((i) => i.id === want) ?? images.find((i) => i.name === want);
      if (!hit) throw new Error(`no image "${want}" among ${images.length}`);
      if (hit.status !== 'active') throw new Error(`image "${want}" is ${hit.status}`);
      imageId = hit.id;
      return `${hit.name} ${hit.id} (${images.length} images listed)`;
    });
    await step('quota', async () => {
      const q = await driver.getQuota();
      const free = q.maxInstances === null ? 'unlimited' : String(q.maxInstances - q.usedInstances);
      if (q.maxInstances !== null && q.maxInstances - q.usedInstances < 1) throw new Error(`no instance left: ${q.usedInstances} of ${q.maxInstances} used`);
      return `instances ${q.usedInstances}/${q.maxInstances ?? '∞'} (free ${free}), cores ${q.usedCores}/${q.maxCores ?? '∞'}, RAM ${q.usedRamMb}/${q.maxRamMb ?? '∞'} MB`;
    });
    await step('create', async () => {
      server = await driver.createServer({
        name: `nodepool-provider-check-${clock.now()}`,
        imageId,
        flavorId,
        // The owner tag (no deployment: no daemon adopts or deletes it) also lets clouds that list only our servers (EC2) see it.
        metadata: { [META_OWNER]: OWNER, 'nodepool-provider-check': '1' },
        az: cfg['availability-zones'][0],
        keyName: cfg.keypair,
        configDrive: cfg['config-drive'],
      });
      return `server ${server.id}; networks ${JSON.stringify(cfg.networks)}`;
    });
    let active: CloudServer | null = null;
    await step('active', async () => {
      const id = server!.id;
      active = await poll('active', async () => {
        const s = await driver.getServer(id);
        if (s.status === 'error') throw new Error(`server went ${s.rawStatus}: ${s.fault ?? 'no fault given'}${s.faultCode ? ` (code ${s.faultCode})` : ''}`);
        return s.status === 'active' ? s : undefined;
      });
      const all = (active.addresses ?? []).map((a) => `${a.network ?? '-'}=${a.addr}`).join(' ') || 'no addresses';
      return `ACTIVE; address ${active.ip ?? 'none'} (${all})`;
    });
    const sshWanted = image['host-key-checking'] && !opts.noSsh;
    if (!sshWanted) steps.push({ step: 'ssh', result: 'skip', ms: 0, detail: opts.noSsh ? '--no-ssh' : 'host-key-checking: false' });
    else {
      await step('ssh', async () => {
        const ip = (active as CloudServer | null)?.ip;
        if (!ip) throw new Error('the server has no usable address (check networks, use-private-address, ipv6-preferred)');
        const privateKey = await readFile(image['private-key']);
        await waitForSsh({ host: ip, port: cfg['ssh-port'], username: image.username, privateKey }, { timeoutMs: Math.max(1, Math.min(left(), cfg['boot-timeout'])), clock, keyName: image['private-key'] });
        return `${image.username}@${ip}:${cfg['ssh-port']} ran echo`;
      });
    }
    await step('list', async () => {
      const all = await driver.listServers();
      if (!all.some((s) => s.id === server!.id)) throw new Error(`server ${server!.id} is not among the ${all.length} listed`);
      return `${all.length} servers listed, ours among them`;
    });
    await step('delete', async () => {
      const id = server!.id;
      await driver.deleteServer(id);
      await poll('gone', async () => ((await driver.listServers()).some((s) => s.id === id) ? undefined : true));
      deleted = true;
      return `server ${id} deleted and gone from the list`;
    });
  } finally {
    const made = server as CloudServer | null;
    if (made && !deleted) {
      const t0 = clock.now();
      try {
        await driver.deleteServer(made.id);
        steps.push({ step: 'cleanup', result: 'pass', ms: clock.now() - t0, detail: `deleted server ${made.id}` });
      } catch (err) {
        steps.push({ step: 'cleanup', result: 'FAIL', ms: clock.now() - t0, detail: `server ${made.id} left behind: ${(err as Error).message}` });
      }
    }
    if (!opts.driver) await driver.close();
  }
  return steps;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('provider-check')
    .description('run the provider contract steps (auth ... create, delete) against a configured cloud; exit 0 only if all pass')
    .argument('<provider>', 'provider name from the config')
    .option('--budget <seconds>', 'hard time limit for the whole check', '300')
    .option('--no-ssh', 'do not try the SSH login')
    .option('--json', 'print the steps as JSON')
    .action(async (name: string, opts: { budget: string; ssh: boolean; json?: boolean }, cmd: Command) => {
      const config: Config = ctx.loadConfig(cmd);
      const cfg = config.providers.find((p) => p.name === name);
      if (!cfg) throw new Error(`no provider "${name}" in the config (have: ${config.providers.map((p) => p.name).join(', ')})`);
      const budget = Number(opts.budget);
      if (!Number.isFinite(budget) || budget <= 0) throw new Error(`--budget: expected seconds > 0, got ${opts.budget}`);
      const steps = await runProviderCheck(cfg, { clock: ctx.io.clock, budgetMs: budget * 1000, noSsh: !opts.ssh });
      if (opts.json) ctx.printJson(steps);
      else ctx.print(checkTable(steps));
      if (steps.some((s) => s.result === 'FAIL')) ctx.exitCode = 1;
    });
}
