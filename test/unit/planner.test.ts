import { describe, expect, it } from 'vitest';
import { NODE_STATES, type NodeState } from '../../src/model.js';
import { allocate, splitProportional } from '../../src/pool/allocate.js';
import { plan, type Plan, type PlannerInput, type PlannerNode } from '../../src/pool/planner.js';
import { seededRng } from '../../src/prng.js';

const NOW = 1_000_000;

function input(over: Partial<PlannerInput>): PlannerInput {
  return { labels: [], providers: [], nodes: [], demand: {}, starvedSince: {}, now: NOW, ...over };
}

function nodes(provider: string, label: string, state: NodeState, n: number): PlannerNode[] {
  return Array.from({ length: n }, () => ({ provider, label, state }));
}

/** Launch counts keyed "label/provider", easier to read in a table than the array. */
function counts(p: Plan): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of p.launches) out[`${l.label}/${l.provider}`] = l.count;
  return out;
}

const prov = (name: string, maxServers: number, cloudLimit: number | null = null) => ({ name, maxServers, cloudLimit });
const label = (name: string, minReady: number, providers: string[]) => ({ name, minReady, providers });

describe('plan: table', () => {
  const cases: {
    name: string;
    in: Partial<PlannerInput>;
    launches: Record<string, number>;
    deficits?: Record<string, number>;
    capacity?: Record<string, number>;
    starved?: Record<string, number>;
  }[] = [
    {
      name: 'plain min-ready fill',
      in: { labels: [label('small', 3, ['p'])], providers: [prov('p', 10)] },
      launches: { 'small/p': 3 },
      deficits: { small: 3 },
      capacity: { p: 10 },
      starved: {},
    },
    {
      name: 'nothing to do when min-ready is met',
      in: { labels: [label('small', 2, ['p'])], providers: [prov('p', 10)], nodes: nodes('p', 'small', 'ready', 2) },
      launches: {},
      deficits: { small: 0 },
      capacity: { p: 8 },
    },
    {
      name: 'supply counts ready and building, not in-use, used, hold or deleting',
      in: {
        labels: [label('small', 3, ['p'])],
        providers: [prov('p', 20)],
        nodes: NODE_STATES.flatMap((s) => nodes('p', 'small', s, 1)),
      },
      launches: { 'small/p': 1 },
      deficits: { small: 1 },
      capacity: { p: 14 },
    },
    {
      name: 'supply of a label counts in any provider',
      in: {
        labels: [label('small', 2, ['p'])],
        providers: [prov('p', 5), prov('q', 5)],
        nodes: nodes('q', 'small', 'ready', 1),
      },
      launches: { 'small/p': 1 },
    },
    {
      name: 'held and deleting nodes consume capacity',
      in: {
        labels: [label('small', 3, ['p'])],
        providers: [prov('p', 4)],
        nodes: [...nodes('p', 'other', 'hold', 2), ...nodes('p', 'small', 'deleting', 1)],
      },
      launches: { 'small/p': 1 },
      capacity: { p: 1 },
      starved: { small: NOW + 1 },
    },
    {
      name: 'a full provider launches nothing and the label starts starving',
      in: { labels: [label('small', 1, ['p'])], providers: [prov('p', 2)], nodes: nodes('p', 'small', 'in-use', 2) },
      launches: {},
      capacity: { p: 0 },
      starved: { small: NOW },
    },
    {
      name: 'over-full provider (limits lowered) gives capacity 0, not negative',
      in: { labels: [label('small', 1, ['p'])], providers: [prov('p', 1)], nodes: nodes('p', 'x', 'used', 3) },
      launches: {},
      capacity: { p: 0 },
    },
    {
      name: 'cloud limit below max-servers caps',
      in: { labels: [label('small', 10, ['p'])], providers: [prov('p', 10, 3)] },
      launches: { 'small/p': 3 },
      capacity: { p: 3 },
    },
    {
      name: 'max-servers below cloud limit caps',
      in: { labels: [label('small', 10, ['p'])], providers: [prov('p', 4, 50)], nodes: nodes('p', 'small', 'in-use', 1) },
      launches: { 'small/p': 3 },
      capacity: { p: 3 },
    },
    {
      name: 'cloud limit 0 blocks the provider',
      in: { labels: [label('small', 1, ['p', 'q'])], providers: [prov('p', 10, 0), prov('q', 10)] },
      launches: { 'small/q': 1 },
    },
    {
      name: 'demand adds to min-ready',
      in: { labels: [label('small', 2, ['p'])], providers: [prov('p', 20)], demand: { small: 5 }, nodes: nodes('p', 'small', 'building', 1) },
      launches: { 'small/p': 6 },
      deficits: { small: 6 },
    },
    {
      name: 'demand for an unknown label is ignored',
      in: { labels: [label('small', 0, ['p'])], providers: [prov('p', 20)], demand: { nope: 5 } },
      launches: {},
      deficits: { small: 0 },
    },
    {
      name: 'proportional split 2:1 between two providers',
      in: { labels: [label('small', 6, ['a', 'b'])], providers: [prov('a', 8), prov('b', 4)] },
      launches: { 'small/a': 4, 'small/b': 2 },
    },
    {
      name: 'proportional split by free capacity, not max-servers',
      in: {
        labels: [label('small', 4, ['a', 'b'])],
        providers: [prov('a', 10), prov('b', 10)],
        nodes: nodes('a', 'x', 'in-use', 8),
      },
      // free a=2, b=10: 4*2/12 = 0.67, 4*10/12 = 3.33 -> floors 0,3; remainder to a.
      launches: { 'small/a': 1, 'small/b': 3 },
    },
    {
      name: 'proportional split: equal remainders go to the first provider name',
      in: { labels: [label('small', 1, ['b', 'a'])], providers: [prov('b', 5), prov('a', 5)] },
      launches: { 'small/a': 1 },
    },
    {
      name: 'a deficit above total capacity fills every provider',
      in: { labels: [label('small', 50, ['a', 'b'])], providers: [prov('a', 3), prov('b', 2)] },
      launches: { 'small/a': 3, 'small/b': 2 },
      starved: { small: NOW + 1 },
    },
    {
      name: 'a label only uses its own providers; unknown provider names are ignored',
      in: { labels: [label('small', 3, ['b', 'ghost'])], providers: [prov('a', 9), prov('b', 2)] },
      launches: { 'small/b': 2 },
      capacity: { a: 9, b: 2 },
    },
    {
      name: 'capacity is shared by all labels',
      in: {
        labels: [label('small', 3, ['p']), label('large', 3, ['p'])],
        providers: [prov('p', 4)],
      },
      // Round-robin from large (same deficit, name order): large, small, large, small.
      launches: { 'large/p': 2, 'small/p': 2 },
      starved: { large: NOW + 1, small: NOW + 1 },
    },
    {
      name: 'short capacity: every label gets one before any gets a second',
      in: {
        labels: [label('a', 5, ['p']), label('b', 1, ['p']), label('c', 9, ['p'])],
        providers: [prov('p', 4)],
      },
      // Order by deficit: c, a, b. Round 1 gives each one; round 2 gives c its second.
      launches: { 'c/p': 2, 'a/p': 1, 'b/p': 1 },
      starved: { a: NOW + 1, c: NOW + 1 },
    },
    {
      name: 'short capacity: the oldest starved label comes first, whatever its deficit or name',
      in: {
        labels: [label('a', 9, ['p']), label('z', 1, ['p'])],
        providers: [prov('p', 1)],
        starvedSince: { a: NOW - 10, z: NOW - 50 },
      },
      launches: { 'z/p': 1 },
      starved: { a: NOW - 10 },
    },
    {
      name: 'a label never starved before counts as starting now',
      in: {
        labels: [label('a', 9, ['p']), label('z', 1, ['p'])],
        providers: [prov('p', 1)],
        starvedSince: { z: NOW - 1 },
      },
      launches: { 'z/p': 1 },
      starved: { a: NOW },
    },
    {
      name: 'partly served label re-queues behind the others; unserved keeps its time; met is cleared',
      in: {
        labels: [label('a', 3, ['p']), label('b', 3, ['p']), label('c', 1, ['p'])],
        providers: [prov('p', 3)],
        starvedSince: { a: NOW - 30, b: NOW - 20, c: NOW - 40 },
      },
      // Order c, a, b: round 1 gives each one (c is met), round 2 finds no room.
      launches: { 'c/p': 1, 'a/p': 1, 'b/p': 1 },
      starved: { a: NOW + 1, b: NOW + 1 },
    },
    {
      name: 'a stale starvedSince for a label now met is dropped',
      in: {
        labels: [label('a', 1, ['p'])],
        providers: [prov('p', 3)],
        nodes: nodes('p', 'a', 'ready', 1),
        starvedSince: { a: NOW - 5, gone: NOW - 9 },
      },
      launches: {},
      starved: {},
    },
    {
      name: 'overlapping providers: an earlier label yields the only provider a later one has',
      in: {
        labels: [label('a', 1, ['x', 'y']), label('b', 1, ['x'])],
        providers: [prov('x', 1), prov('y', 1)],
        starvedSince: { a: NOW - 9 },
      },
      // a alone would take x (name order), stranding b; the repair moves a to y.
      launches: { 'a/y': 1, 'b/x': 1 },
      starved: {},
    },
    {
      name: 'overlapping providers: chained move over three providers',
      in: {
        labels: [label('a', 1, ['x', 'y']), label('b', 1, ['y', 'z']), label('c', 1, ['x'])],
        providers: [prov('x', 1), prov('y', 1), prov('z', 1)],
        starvedSince: { a: NOW - 3, b: NOW - 2, c: NOW - 1 },
      },
      launches: { 'a/y': 1, 'b/z': 1, 'c/x': 1 },
    },
  ];

  it.each(cases)('$name', (c) => {
    const p = plan(input(c.in));
    expect(counts(p)).toEqual(c.launches);
    if (c.deficits) expect(p.deficits).toEqual(c.deficits);
    if (c.capacity) expect(p.capacity).toEqual(c.capacity);
    if (c.starved) expect(p.starvedSince).toEqual(c.starved);
  });

  it('lists launches in priority order, then provider name', () => {
    const p = plan(
      input({
        labels: [label('a', 2, ['y', 'x']), label('b', 3, ['x'])],
        providers: [prov('x', 10), prov('y', 10)],
      }),
    );
    expect(p.launches).toEqual([
      { label: 'b', provider: 'x', count: 3 },
      { label: 'a', provider: 'x', count: 1 },
      { label: 'a', provider: 'y', count: 1 },
    ]);
  });
});

describe('splitProportional', () => {
  it.each([
    { n: 0, free: [3, 3], out: [0, 0] },
    { n: 3, free: [0, 0], out: [0, 0] },
    { n: 3, free: [2, 1], out: [2, 1] },
    { n: 9, free: [2, 1], out: [2, 1] },
    { n: 5, free: [6, 3], out: [3, 2] },
    { n: 2, free: [1, 1, 1], out: [1, 1, 0] },
    { n: 10, free: [1, 1e12], out: [0, 10] },
  ])('$n over $free', ({ n, free, out }) => {
    expect(splitProportional(n, free.map((f, k) => ({ key: String.fromCharCode(97 + k), free: f })))).toEqual(out);
  });
});

describe('allocate', () => {
  it('ignores zero, negative and unplaceable wants', () => {
    expect(
      allocate(
        [
          { label: 'a', want: 0, providers: ['x'] },
          { label: 'b', want: -3, providers: ['x'] },
          { label: 'c', want: 2, providers: [] },
          { label: 'd', want: 1, providers: ['x', 'x'] },
        ],
        { x: 5 },
      ),
    ).toEqual([{ label: 'd', provider: 'x', count: 1 }]);
  });
});

// --- property-style checks over many random inputs -------------------------------------------

/** A failing case can be replayed from its seed. */
const prng = seededRng;

function randomInput(rand: () => number, shared: boolean): PlannerInput {
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)];
  const providerNames = ['p0', 'p1', 'p2', 'p3'].slice(0, int(1, 4));
  const providers = providerNames.map((name) => prov(name, int(0, 20), rand() < 0.4 ? null : int(0, 25)));
  const labelNames = ['l0', 'l1', 'l2', 'l3', 'l4'].slice(0, int(1, 5));
  const labels = labelNames.map((name) => {
    const own = shared ? providerNames : providerNames.filter(() => rand() < 0.5);
    if (!shared && rand() < 0.2) own.push('ghost');
    return label(name, int(0, 6), own);
  });
  const nodeCount = int(0, 40);
  const nodeList: PlannerNode[] = [];
  for (let k = 0; k < nodeCount; k++) {
    nodeList.push({
      provider: rand() < 0.05 ? 'retired' : pick(providerNames),
      label: rand() < 0.05 ? 'old-label' : pick(labelNames),
      state: pick(NODE_STATES),
    });
  }
  const demand: Record<string, number> = {};
  const starvedSince: Record<string, number> = {};
  for (const l of labelNames) {
    if (rand() < 0.6) demand[l] = int(0, 12);
    if (rand() < 0.5) starvedSince[l] = NOW - int(0, 100);
  }
  return { labels, providers, nodes: nodeList, demand, starvedSince, now: NOW };
}

/** The rules, computed here independently of the planner. */
function expected(inp: PlannerInput) {
  const capacity: Record<string, number> = {};
  for (const p of inp.providers) {
    const held = inp.nodes.filter((n) => n.provider === p.name).length;
    capacity[p.name] = Math.max(0, Math.min(p.maxServers, p.cloudLimit ?? Infinity) - held);
  }
  const deficits: Record<string, number> = {};
  for (const l of inp.labels) {
    const supply = inp.nodes.filter((n) => n.label === l.name && (n.state === 'ready' || n.state === 'building')).length;
    deficits[l.name] = Math.max(0, (inp.demand[l.name] ?? 0) + l.minReady - supply);
  }
  return { capacity, deficits };
}

function checkInvariants(inp: PlannerInput, p: Plan, seed: number) {
  const ctx = `seed ${seed}`;
  const { capacity, deficits } = expected(inp);
  expect(p.capacity, ctx).toEqual(capacity);
  expect(p.deficits, ctx).toEqual(deficits);
  const perProvider: Record<string, number> = {};
  const perLabel: Record<string, number> = {};
  for (const l of p.launches) {
    expect(Number.isInteger(l.count) && l.count > 0, ctx).toBe(true);
    const cfg = inp.labels.find((x) => x.name === l.label);
    expect(cfg?.providers, ctx).toContain(l.provider);
    perProvider[l.provider] = (perProvider[l.provider] ?? 0) + l.count;
    perLabel[l.label] = (perLabel[l.label] ?? 0) + l.count;
  }
  for (const [name, n] of Object.entries(perProvider)) expect(n, `${ctx} provider ${name}`).toBeLessThanOrEqual(capacity[name]);
  for (const [name, n] of Object.entries(perLabel)) expect(n, `${ctx} label ${name}`).toBeLessThanOrEqual(deficits[name]);
  // Nothing left undone that fits: a label short of its deficit has no provider with room left.
  for (const l of inp.labels) {
    const short = (perLabel[l.name] ?? 0) < deficits[l.name];
    if (short) expect(p.starvedSince[l.name], `${ctx} ${l.name} starved`).toBeDefined();
    else expect(p.starvedSince[l.name], `${ctx} ${l.name} not starved`).toBeUndefined();
    if (!short) continue;
    for (const prov of l.providers) {
      if (prov in capacity) expect(capacity[prov] - (perProvider[prov] ?? 0), `${ctx} ${l.name} on ${prov}`).toBe(0);
    }
  }
  return { perLabel, perProvider, capacity, deficits };
}

describe('plan: invariants over random inputs', () => {
  it('never exceeds capacity or deficit, uses only the label\'s providers, leaves nothing that fits', () => {
    for (let seed = 1; seed <= 3000; seed++) {
      const inp = randomInput(prng(seed), false);
      checkInvariants(inp, plan(inp), seed);
    }
  });

  it('with providers shared by all labels: fills min(deficit, capacity), one each before seconds', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const inp = randomInput(prng(seed * 7919), true);
      const p = plan(inp);
      const { perLabel, capacity, deficits } = checkInvariants(inp, p, seed);
      const totalCapacity = Object.values(capacity).reduce((a, b) => a + b, 0);
      const totalDeficit = Object.values(deficits).reduce((a, b) => a + b, 0);
      const launched = Object.values(perLabel).reduce((a, b) => a + b, 0);
      expect(launched, `seed ${seed}`).toBe(Math.min(totalCapacity, totalDeficit));
      const needy = inp.labels.filter((l) => deficits[l.name] > 0);
      if (needy.some((l) => (perLabel[l.name] ?? 0) === 0)) {
        for (const l of needy) expect(perLabel[l.name] ?? 0, `seed ${seed} ${l.name}`).toBeLessThanOrEqual(1);
      }
    }
  });

  it('is deterministic: input order does not matter', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const inp = randomInput(prng(seed), false);
      const rand = prng(seed + 1);
      const shuffle = <T>(xs: T[]): T[] => xs.map((x) => [rand(), x] as const).sort((a, b) => a[0] - b[0]).map(([, x]) => x);
      const other: PlannerInput = {
        ...inp,
        labels: shuffle(inp.labels.map((l) => ({ ...l, providers: shuffle([...l.providers]) }))),
        providers: shuffle(inp.providers),
        nodes: shuffle(inp.nodes),
      };
      expect(plan(other), `seed ${seed}`).toEqual(plan(inp));
    }
  });
});

// --- several consecutive plans -----------------------------------------------------------------

describe('plan: contention over consecutive plans', () => {
  /**
   * One provider with room for `slots` nodes. Each round: plan; every launched node is taken by
   * a build, used and deleted before the next plan, so each plan again sees `slots` free and no
   * supply: capacity stays short of the deficits for ever.
   */
  function simulate(opts: {
    slots: number;
    labels: { name: string; minReady: number }[];
    demand: Record<string, number>;
    rounds: number;
    /** Time between plans; 0 = a frozen clock (plans within one millisecond). */
    stepMs: number;
    carryStarvedSince?: boolean;
  }) {
    let starvedSince: Record<string, number> = {};
    const served: string[][] = [];
    for (let r = 0; r < opts.rounds; r++) {
      const p = plan({
        labels: opts.labels.map((l) => label(l.name, l.minReady, ['p'])),
        providers: [prov('p', opts.slots)],
        nodes: [],
        demand: opts.demand,
        starvedSince,
        now: NOW + r * opts.stepMs,
      });
      starvedSince = opts.carryStarvedSince === false ? {} : p.starvedSince;
      served.push(p.launches.flatMap((l) => Array.from({ length: l.count }, () => l.label)));
    }
    return served;
  }

  const steps = [{ stepMs: 1000 }, { stepMs: 1 }, { stepMs: 0 }];

  it.each(steps)('a small label is served next round even when a big one always has more demand (step $stepMs ms)', ({ stepMs }) => {
    const served = simulate({
      slots: 1,
      labels: [
        { name: 'big', minReady: 0 },
        { name: 'small', minReady: 1 },
      ],
      demand: { big: 20 },
      rounds: 8,
      stepMs,
    });
    // Round 0: big wins on deficit. From then on they alternate: the one that got nothing leads.
    expect(served).toEqual([['big'], ['small'], ['big'], ['small'], ['big'], ['small'], ['big'], ['small']]);
  });

  it.each(steps)('without carrying starvedSince the small label would starve (step $stepMs ms)', ({ stepMs }) => {
    const served = simulate({
      slots: 1,
      labels: [
        { name: 'big', minReady: 0 },
        { name: 'small', minReady: 1 },
      ],
      demand: { big: 20 },
      rounds: 8,
      stepMs,
      carryStarvedSince: false,
    });
    expect(served.flat()).not.toContain('small');
  });

  it.each(steps)('with more labels than slots every label is served within a bounded number of rounds (step $stepMs ms)', ({ stepMs }) => {
    const names = ['a', 'b', 'c', 'd', 'e'];
    const served = simulate({
      slots: 2,
      labels: names.map((name) => ({ name, minReady: 1 })),
      demand: { a: 30, b: 10 },
      rounds: 12,
      stepMs,
    });
    // Each round serves 2 distinct labels (round-robin), and 5 labels share 2 slots:
    // no label goes more than 2 rounds in a row without a node.
    for (const round of served) expect(new Set(round).size).toBe(round.length);
    for (const name of names) {
      let gap = 0;
      for (const round of served) {
        gap = round.includes(name) ? 0 : gap + 1;
        expect(gap, `${name} waited`).toBeLessThanOrEqual(2);
      }
    }
  });

  it.each(steps)('labels met and re-queued in turn cannot overtake a waiting one for ever (step $stepMs ms)', ({ stepMs }) => {
    // With one slot, "a" and "b" sort before "x" by name; each is met when served and wants a
    // node again next round. "x" must still get its turn.
    const served = simulate({
      slots: 1,
      labels: ['a', 'b', 'x'].map((name) => ({ name, minReady: 1 })),
      demand: {},
      rounds: 9,
      stepMs,
    });
    expect(served.every((r) => r.length === 1)).toBe(true);
    for (const name of ['a', 'b', 'x']) expect(served.flat().filter((n) => n === name)).toHaveLength(3);
  });
});

describe('plan: cores and RAM per label flavor', () => {
  const flavors = { small: { vcpus: 2, ramMb: 2048 }, large: { vcpus: 8, ramMb: 16384 } };

  it('measures headroom with each label\'s own flavor, not one flavor for all', () => {
    // 20 cores in all; 2 large nodes hold 16: room for 2 small (4 cores) but no third large.
    const p = plan(
      input({
        labels: [label('large', 3, ['p']), label('small', 3, ['p'])],
        providers: [{ ...prov('p', 50), coresLimit: 20, ramLimitMb: null, flavors }],
        nodes: nodes('p', 'large', 'ready', 2),
      }),
    );
    expect(counts(p)).toEqual({ 'small/p': 2 });
  });

  it('keeps launches in priority order while they fit, and cuts RAM as well as cores', () => {
    const p = plan(
      input({
        labels: [label('small', 4, ['p']), label('large', 1, ['p'])],
        providers: [{ ...prov('p', 50), coresLimit: null, ramLimitMb: 16384 + 4096, flavors }],
        starvedSince: { large: NOW - 10 },
      }),
    );
    // large waited longest: it takes 16 GiB, small gets the 4 GiB left (2 nodes).
    expect(counts(p)).toEqual({ 'large/p': 1, 'small/p': 2 });
  });

  it('counts nothing for labels without a known flavor (an unreachable flavor list never blocks launches)', () => {
    const p = plan(input({ labels: [label('other', 2, ['p'])], providers: [{ ...prov('p', 50), coresLimit: 1, ramLimitMb: 1, flavors }] }));
    expect(counts(p)).toEqual({ 'other/p': 2 });
  });
});
