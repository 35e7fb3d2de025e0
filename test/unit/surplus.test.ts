import { describe, expect, it } from 'vitest';
import { surplusNodes, type SurplusInput } from '../../src/pool/surplus.js';

const G = 600_000;
const ready = (id: number, label: string, since: number) => ({ id, label, state: 'ready', stateTime: since });

function input(over: Partial<SurplusInput>): SurplusInput {
  return { labels: [{ name: 'small', minReady: 2 }], nodes: [], demand: {}, surplusSince: {}, graceMs: G, now: 1_000_000, ...over };
}

describe('surplusNodes', () => {
  it('keeps a surplus through the grace, then deletes the oldest ready nodes above min-ready plus demand', () => {
    const nodes = [ready(1, 'small', 500), ready(2, 'small', 100), ready(3, 'small', 900), ready(4, 'small', 300)];
    const first = surplusNodes(input({ nodes, now: 1000 }));
    expect(first).toEqual({ remove: [], surplusSince: { small: 1000 } });
    const during = surplusNodes(input({ nodes, now: 1000 + G - 1, surplusSince: first.surplusSince }));
    expect(during.remove).toEqual([]);
    const after = surplusNodes(input({ nodes, now: 1000 + G, surplusSince: during.surplusSince }));
    expect(after).toEqual({ remove: [2, 4], surplusSince: {} });
  });

  it('counts demand as wanted, and forgets the surplus once it is gone', () => {
    const nodes = [ready(1, 'small', 0), ready(2, 'small', 0), ready(3, 'small', 0)];
    expect(surplusNodes(input({ nodes, demand: { small: 1 }, surplusSince: { small: 0 }, now: 10 * G }))).toEqual({ remove: [], surplusSince: {} });
  });

  it('ignores nodes that are not ready and labels without a surplus', () => {
    const nodes = [ready(1, 'small', 0), { id: 2, label: 'small', state: 'in-use', stateTime: 0 }, { id: 3, label: 'small', state: 'building', stateTime: 0 }, ready(4, 'big', 0)];
    const r = surplusNodes(input({ labels: [{ name: 'small', minReady: 1 }, { name: 'big', minReady: 0 }], nodes, surplusSince: { big: 0 }, now: G }));
    expect(r).toEqual({ remove: [4], surplusSince: {} });
  });
});
