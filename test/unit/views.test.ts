import { describe, expect, it } from 'vitest';
import { labelTable } from '../../src/cli/commands/label-list.js';
import { providerTable } from '../../src/cli/commands/provider-list.js';
import { parseConfig } from '../../src/config.js';
import type { ImageRecord, NodeRecord, NodeState } from '../../src/model.js';
import { labelView, providerView, statusView, type LiveFigures } from '../../src/views.js';

const provider = (name: string, maxServers: number) => `  - name: ${name}
    auth: { auth-url: http://127.0.0.1:5000/v3, username: admin, password: secret, project-name: demo }
    max-servers: ${maxServers}
    rate: 0.5
    images:
      - { name: ubuntu, base-image: ubuntu-jammy }`;

const cfg = parseConfig(
  `labels:
  - { name: small, image: ubuntu, min-ready: 3, providers: [{ name: cloud-a }, { name: cloud-b }] }
  - { name: large, image: ubuntu, min-ready: 1, providers: [{ name: cloud-b }] }
providers:
${provider('cloud-a', 4)}
${provider('cloud-b', 10)}
`,
  'views.yaml',
  {},
);

let nextId = 1;
function node(label: string, provider: string, state: NodeState): NodeRecord {
  const id = nextId++;
  return {
    id, provider, label, image: 'ubuntu', target: '', hostname: `h${id}`, serverId: null, ip: null, az: null, state, stateTime: 0,
    holdReason: null, holdExpires: null, comment: null, manager: null, launchAttempts: 0, created: 0, imageId: null, imageVersion: null,
  };
}

const nodes = [
  node('small', 'cloud-a', 'ready'),
  node('small', 'cloud-a', 'building'),
  node('small', 'cloud-b', 'in-use'),
  node('small', 'cloud-b', 'used'),
  node('small', 'cloud-a', 'hold'),
  node('small', 'cloud-a', 'deleting'),
  node('large', 'cloud-b', 'ready'),
  node('large', 'cloud-b', 'ready'),
];

const live: LiveFigures = {
  demand: { small: 2 },
  providers: {
    'cloud-a': { limits: { instances: 3, cores: 16, ramMb: 32768 }, launching: 1, queued: 0, reconciled: true },
    'cloud-b': { limits: { instances: null, cores: null, ramMb: null }, launching: 0, queued: 0, reconciled: false },
  },
};

describe('labelView', () => {
  it('counts nodes by state per label; without live figures demand is null and the deficit counts min-ready only', () => {
    expect(labelView(cfg, nodes)).toEqual([
      { name: 'small', minReady: 3, ready: 1, building: 1, inUse: 1, used: 1, hold: 1, deleting: 1, demand: null, deficit: 1, providers: ['cloud-a', 'cloud-b'] },
      { name: 'large', minReady: 1, ready: 2, building: 0, inUse: 0, used: 0, hold: 0, deleting: 0, demand: null, deficit: 0, providers: ['cloud-b'] },
    ]);
  });

  it('adds live demand to the deficit; a label Gearman does not mention has demand 0', () => {
    const [small, large] = labelView(cfg, nodes, live);
    expect([small.demand, small.deficit, large.demand, large.deficit]).toEqual([2, 3, 0, 0]);
  });

  it('keeps demand null when the daemon has no demand source', () => {
    expect(labelView(cfg, nodes, { ...live, demand: null }).map((l) => [l.demand, l.deficit])).toEqual([[null, 1], [null, 0]]);
  });
});

describe('providerView', () => {
  it('without live figures: quota, launching and reconciled are null; capacity is max-servers minus every node held', () => {
    const [a, b] = providerView(cfg, nodes);
    expect(a).toEqual({
      name: 'cloud-a', maxServers: 4, rate: 0.5, quota: null,
      nodes: { building: 1, ready: 1, 'in-use': 0, used: 0, hold: 1, deleting: 1 },
      held: 4, capacity: 0, launching: null, reconciled: null, health: null,
    });
    expect([b.held, b.capacity, b.quota]).toEqual([4, 6, null]);
  });

  it('with live figures: the quota estimate bounds capacity and launches in flight are shown', () => {
    const [a, b] = providerView(cfg, nodes.filter((n) => n.state !== 'deleting'), live);
    expect([a.quota, a.held, a.capacity, a.launching, a.reconciled]).toEqual([{ instances: 3, cores: 16, ramMb: 32768 }, 3, 0, 1, true]);
    expect([b.quota, b.capacity, b.reconciled]).toEqual([{ instances: null, cores: null, ramMb: null }, 6, false]);
    expect([a.health, b.health]).toEqual(['ok', 'not reconciled']);
    const down = providerView(cfg, nodes, { ...live, providers: { ...live.providers, 'cloud-a': { ...live.providers['cloud-a'], cloudUp: false } } });
    expect(down[0].health).toBe('unreachable');
  });
});

describe('statusView', () => {
  const images = [{ state: 'ready' }, { state: 'building' }, { state: 'ready' }] as ImageRecord[];
  const base = { cfg, nodes, images, deploymentId: 'dep1', version: '1.2.3', nodeVersion: 'v20.0.0' };

  it('totals nodes and images by state, with versions and the deployment id', () => {
    expect(statusView(base)).toEqual({
      deploymentId: 'dep1',
      versions: { nodepool: '1.2.3', node: 'v20.0.0' },
      nodes: { total: 8, building: 1, ready: 3, 'in-use': 1, used: 1, hold: 1, deleting: 1 },
      images: { total: 3, ready: 2, building: 1, failed: 0, deleting: 0 },
      labels: 2,
      providers: 2,
      live: false,
      ready: null,
    });
  });

  it('is ready only when the daemon has reconciled every provider', () => {
    expect(statusView({ ...base, live }).ready).toBe(false);
    const all: LiveFigures = { ...live, providers: { ...live.providers, 'cloud-b': { ...live.providers['cloud-b'], reconciled: true } } };
    expect([statusView({ ...base, live: all }).live, statusView({ ...base, live: all }).ready]).toEqual([true, true]);
  });
});

describe('label-list and provider-list tables', () => {
  it('print one row per record; unknown live figures are blank cells', () => {
    const labels = labelTable(labelView(cfg, nodes)).trimEnd().split('\n');
    expect(labels[0].split(/\s{2,}/)).toEqual(['Label', 'Min-ready', 'Ready', 'Building', 'In-use', 'Used', 'Hold', 'Deleting', 'Demand', 'Deficit', 'Providers']);
    // Demand is blank (not "null"): only padding below its header.
    const at = labels[0].indexOf('Demand');
    expect(labels[1].slice(at, at + 'Demand'.length)).toBe(' '.repeat('Demand'.length));
    expect(labels[1].split(/\s+/)).toEqual(['small', '3', '1', '1', '1', '1', '1', '1', '1', 'cloud-a,cloud-b']);
    expect(labelTable(labelView(cfg, nodes, live)).split('\n')[1].split(/\s+/)).toEqual(['small', '3', '1', '1', '1', '1', '1', '1', '2', '3', 'cloud-a,cloud-b']);
    const providers = providerTable(providerView(cfg, nodes, live)).trimEnd().split('\n');
    expect(providers).toHaveLength(3);
    expect(providers[1].split(/\s+/)).toEqual(['cloud-a', '4', '3', '16', '32768', '4', '1', '1', '0', '0', '1', '1', '0', '1', '0.5s', 'ok']);
    expect(providerTable(providerView(cfg, nodes)).split('\n')[1].split(/\s+/)).toEqual(['cloud-a', '4', '4', '1', '1', '0', '0', '1', '1', '0', '0.5s']);
  });
});
