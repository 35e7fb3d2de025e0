import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { planReload } from '../../src/reload.js';
import { ProviderRuntimes } from '../../src/provider-runtimes.js';
import type { ManagedProvider } from '../../providers/managed-provider.js';

const base = (over: { gearman?: string; jenkinsUrl?: string; zmq?: string; extraTarget?: boolean; rate?: number } = {}) =>
  parseConfig(
    [
      `gearman-servers: [{ host: ${over.gearman ?? 'g1'} }]`,
      `zmq-publishers: ["${over.zmq ?? 'tcp://j1:8888'}"]`,
      'targets:',
      `  - { name: jenkins1, jenkins: { url: "${over.jenkinsUrl ?? 'https://j1/'}", user: u, apikey: k, credentials-id: c } }`,
      '  - { name: zuul, gearman: {} }',
      ...(over.extraTarget ? ['  - { name: zuul2, gearman: {} }'] : []),
      'providers:',
      '  - name: a',
      '    auth: { auth-url: "http://127.0.0.1:1/v3", username: u, password: p, project-name: x }',
      '    max-servers: 5',
      `    rate: ${over.rate ?? 1}`,
      '    images: [{ name: img, base-image: base }]',
      '  - name: b',
      '    auth: { auth-url: "http://127.0.0.1:1/v3", username: u, password: p, project-name: x }',
      '    max-servers: 5',
      '    images: [{ name: img, base-image: base }]',
      'labels: [{ name: small, image: img, providers: [{ name: a }] }]',
    ].join('\n'),
    'test.yaml',
  );

describe('planReload', () => {
  it('changes nothing for the same config', () => {
    expect(planReload(base(), base())).toEqual({ targetsToCreate: [], targetsToClose: [], ciChanged: false });
  });

  it('re-creates only the targets whose config changed, and closes the replaced ones', () => {
    expect(planReload(base(), base({ jenkinsUrl: 'https://j2/' }))).toEqual({ targetsToCreate: ['jenkins1'], targetsToClose: ['jenkins1'], ciChanged: false });
  });

  it('creates new targets and closes removed ones', () => {
    expect(planReload(base(), base({ extraTarget: true }))).toEqual({ targetsToCreate: ['zuul2'], targetsToClose: [], ciChanged: false });
    expect(planReload(base({ extraTarget: true }), base())).toEqual({ targetsToCreate: [], targetsToClose: ['zuul2'], ciChanged: false });
  });

  it('restarts the CI connections and the Gearman targets when the gearman servers change', () => {
    expect(planReload(base(), base({ gearman: 'g2' }))).toEqual({ targetsToCreate: ['zuul'], targetsToClose: ['zuul'], ciChanged: true });
    expect(planReload(base(), base({ zmq: 'tcp://j2:8888' }))).toEqual({ targetsToCreate: [], targetsToClose: [], ciChanged: true });
  });
});

describe('ProviderRuntimes', () => {
  function fakeApi(name: string, log: string[]): ManagedProvider {
    return { name, close: async () => void log.push(`close ${name}`) } as unknown as ManagedProvider;
  }

  it('keeps quota estimate and launch slots when a provider changes, and closes the old client once its work drained', async () => {
    const log: string[] = [];
    let made = 0;
    let release!: () => void;
    const drained = new Promise<void>((r) => (release = r));
    const rts = new ProviderRuntimes({ makeApi: (cfg) => fakeApi(`${cfg.name}#${++made}`, log), drained: () => drained });
    expect(rts.apply(base().providers)).toEqual(['a', 'b']);
    const before = rts.get('a')!;
    before.quota.shrinkTo(2);
    expect(rts.apply(base({ rate: 2 }).providers)).toEqual([]);
    const after = rts.get('a')!;
    expect(after.api).not.toBe(before.api);
    expect(after.quota).toBe(before.quota);
    expect(after.quota.cloudLimit()).toBe(2);
    expect(after.launchSlots).toBe(before.launchSlots);
    expect(rts.get('b')!.api.name).toBe('b#2');
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual([]);
    release();
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['close a#1']);
    await rts.close();
    expect(log.sort()).toEqual(['close a#1', 'close a#3', 'close b#2']);
  });

  it('retires a provider that is no longer configured', async () => {
    const log: string[] = [];
    const rts = new ProviderRuntimes({ makeApi: (cfg) => fakeApi(cfg.name, log), drained: async () => undefined });
    rts.apply(base().providers);
    rts.apply(base().providers.filter((p) => p.name === 'a'));
    expect(rts.names()).toEqual(['a']);
    await rts.close();
    expect(log.sort()).toEqual(['close a', 'close b']);
  });
});
