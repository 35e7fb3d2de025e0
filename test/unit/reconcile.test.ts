import { describe, expect, it } from 'vitest';
import { expiredNodes, reconcile, type ReconcileInput } from '../../src/reconcile.js';
import type { NodeRecord } from '../../src/model.js';
import type { CloudServer } from '../../providers/provider.js';

const OWNER = 'nodepool-ts';
const DEP = 'dep-a';
const node = (id: number, state: NodeRecord['state'], serverId: string | null, extra: Partial<NodeRecord> = {}): NodeRecord => ({
  id, provider: 'a', label: 'l', image: 'i', target: '', hostname: `l-a-${id}`, serverId, ip: null, az: null, state,
  stateTime: 0, holdReason: null, holdExpires: null, comment: null, manager: null, launchAttempts: 1, created: 0, imageId: null, imageVersion: null, ...extra,
});
const server = (id: string, nodeId: number | null, extra: Partial<CloudServer> = {}): CloudServer => ({
  id, name: `s-${id}`, status: 'active', rawStatus: 'ACTIVE', ip: null, az: null, fault: null, created: 0,
  metadata: nodeId === null ? {} : { nodepool_owner: OWNER, nodepool_deployment: DEP, nodepool_provider: 'a', nodepool_node_id: String(nodeId) }, ...extra,
});
const input = (over: Partial<ReconcileInput>): ReconcileInput => ({ provider: 'a', deploymentId: DEP, nodes: [], servers: [], suspects: new Set(), missing: new Set(), startup: false, ...over });
/** The same server as another nodepool-ts deployment on the same cloud project created it. */
const otherDeployment = (s: CloudServer, dep = 'dep-b'): CloudServer => ({ ...s, metadata: { ...s.metadata, nodepool_deployment: dep } });

describe('reconcile', () => {
  it('at start-up adopts a building row whose create answer was lost, and drops one never created', () => {
    const r = reconcile(input({ startup: true, nodes: [node(1, 'building', null), node(2, 'building', null)], servers: [server('s1', 1)] }));
    expect(r.adopt).toEqual([{ nodeId: 1, serverId: 's1' }]);
    expect(r.dropRows).toEqual([2]);
    expect(r.leaked).toEqual([]);
  });

  it('while running leaves a building row without a server alone: its create is in flight', () => {
    const r = reconcile(input({ nodes: [node(1, 'building', null)], servers: [server('s1', 1)] }));
    expect(r).toMatchObject({ adopt: [], dropRows: [], lost: [], leaked: [] });
    expect([...r.suspects]).toEqual([]);
  });

  it('a row missed by one list is only missing; missed by two consecutive lists it is lost (in-use too)', () => {
    const nodes = [node(1, 'ready', 's1'), node(2, 'hold', 's2'), node(3, 'deleting', 's3'), node(4, 'in-use', 's4')];
    const first = reconcile(input({ nodes, servers: [server('s2', 2)] }));
    expect(first.lost).toEqual([]);
    expect([...first.missing]).toEqual([1, 4]);
    const second = reconcile(input({ nodes, servers: [server('s2', 2)], missing: first.missing }));
    expect(second.lost).toEqual([1, 4]);
    expect([...second.missing]).toEqual([]);
  });

  it('forgets a miss when the next list shows the server again', () => {
    const nodes = [node(1, 'in-use', 's1')];
    const back = reconcile(input({ nodes, servers: [server('s1', 1)], missing: new Set([1]) }));
    expect(back.lost).toEqual([]);
    expect([...back.missing]).toEqual([]);
    const again = reconcile(input({ nodes, servers: [], missing: back.missing }));
    expect(again.lost).toEqual([]);
    expect([...again.missing]).toEqual([1]);
  });

  it('a busy row is not judged and its miss is not carried over', () => {
    const r = reconcile(input({ nodes: [node(1, 'ready', 's1')], busy: new Set([1]), servers: [], missing: new Set([1]) }));
    expect(r.lost).toEqual([]);
    expect([...r.missing]).toEqual([]);
  });

  it('deletes a leaked server only on the second consecutive sighting', () => {
    const first = reconcile(input({ servers: [server('s9', 9)] }));
    expect(first.leaked).toEqual([]);
    expect([...first.suspects]).toEqual(['s9']);
    const second = reconcile(input({ servers: [server('s9', 9)], suspects: first.suspects }));
    expect(second.leaked.map((s) => s.id)).toEqual(['s9']);
  });

  it('never deletes a server of another deployment on the same project, even with the same node id', () => {
    const nodes = [node(1, 'ready', 's1')];
    const theirs = otherDeployment(server('t1', 1));
    const legacy = server('old', 1, { metadata: { nodepool_owner: OWNER, nodepool_provider: 'a', nodepool_node_id: '1' } });
    const first = reconcile(input({ nodes, servers: [server('s1', 1), theirs, legacy] }));
    const second = reconcile(input({ nodes, servers: [server('s1', 1), theirs, legacy], suspects: first.suspects }));
    expect([...first.suspects, ...second.suspects]).toEqual([]);
    expect(second.leaked).toEqual([]);
  });

  it('at start-up adopts only a server of our own deployment for an interrupted launch', () => {
    const r = reconcile(input({ startup: true, nodes: [node(1, 'building', null)], servers: [otherDeployment(server('t1', 1))] }));
    expect(r.adopt).toEqual([]);
    expect(r.dropRows).toEqual([1]);
  });

  it('never touches servers without our metadata, of another provider, or owned by a live row', () => {
    const other = server('x', 5, { metadata: { nodepool_owner: OWNER, nodepool_deployment: DEP, nodepool_provider: 'b', nodepool_node_id: '5' } });
    const suspects = new Set(['plain', 'x', 's1']);
    const r = reconcile(input({ nodes: [node(1, 'ready', 's1')], servers: [server('plain', null), other, server('s1', 1)], suspects }));
    expect(r.leaked).toEqual([]);
    expect([...r.suspects]).toEqual([]);
  });

  it('leaves rows with a task in flight alone, and their servers too', () => {
    const nodes = [node(1, 'building', 's1'), node(2, 'ready', 's-gone')];
    const servers = [server('s1', 1), server('s1-old', 1)];
    const r = reconcile(input({ nodes, busy: new Set([1, 2]), servers, suspects: new Set(['s1', 's1-old']) }));
    expect(r).toMatchObject({ lost: [], leaked: [] });
    expect([...r.suspects]).toEqual([]);
  });

  it('treats a server whose row points at another server as leaked (a failed attempt left behind)', () => {
    const once = reconcile(input({ nodes: [node(1, 'building', 's-new')], servers: [server('s-old', 1), server('s-new', 1)] }));
    expect([...once.suspects]).toEqual(['s-old']);
  });
});

describe('expiredNodes', () => {
  const maxAge = { ready: 100, 'in-use': 200, used: 50, hold: 1000 };
  it('expires holds at their time and states past max-age', () => {
    const nodes = [
      node(1, 'hold', 's', { holdExpires: 10, stateTime: 0 }),
      node(2, 'hold', 's', { holdExpires: 500, stateTime: 0 }),
      node(3, 'ready', 's', { stateTime: 0 }),
      node(4, 'in-use', 's', { stateTime: 0 }),
      node(5, 'used', 's', { stateTime: 120 }),
      node(6, 'building', null, { stateTime: 0 }),
    ];
    expect(expiredNodes(nodes, 150, maxAge).map((e) => [e.node.id, e.why])).toEqual([
      [1, 'hold expired'],
      [3, 'in state ready longer than max-age'],
    ]);
  });
});

describe('reconcile: template servers of image bakes', () => {
  it('never judges a server carrying an image build id as a node leak (the builder owns it)', () => {
    const template: CloudServer = {
      ...server('t1', null),
      metadata: { nodepool_owner: OWNER, nodepool_deployment: DEP, nodepool_provider: 'a', nodepool_image_id: '7' },
    };
    const first = reconcile(input({ servers: [template] }));
    const second = reconcile(input({ servers: [template], suspects: first.suspects }));
    expect([first.suspects.size, second.leaked.length]).toEqual([0, 0]);
  });
});
