import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../src/coalescer.js';

const microtasks = async (n: number) => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};

describe('Coalescer', () => {
  it('collapses requests made during a run into one more run', async () => {
    let runs = 0;
    let release!: () => void;
    const c = new Coalescer(async () => {
      runs++;
      if (runs === 1) await new Promise<void>((r) => (release = r));
    }, () => undefined);
    c.request();
    c.request();
    c.request();
    release();
    await c.idle();
    expect(runs).toBe(2);
  });

  it('never loses a request made at any point around the end of a run', async () => {
    for (let depth = 0; depth < 12; depth++) {
      let requests = 0;
      let servedUpTo = 0;
      const c = new Coalescer(async () => {
        servedUpTo = requests;
        await Promise.resolve();
      }, () => undefined);
      const ask = () => {
        requests++;
        c.request();
      };
      ask();
      await microtasks(depth);
      ask();
      await c.idle();
      await microtasks(12);
      await c.idle();
      expect({ depth, servedUpTo }).toEqual({ depth, servedUpTo: 2 });
    }
  });

  it('reports a failing run and keeps serving', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const c = new Coalescer(async () => {
      runs++;
      if (runs === 1) throw new Error('boom');
    }, (e) => errors.push(e));
    c.request();
    await c.idle();
    c.request();
    await c.idle();
    expect([runs, errors.length]).toEqual([2, 1]);
  });

  it('takes no requests after close', async () => {
    let runs = 0;
    const c = new Coalescer(async () => void runs++, () => undefined);
    await c.close();
    c.request();
    await c.idle();
    expect(runs).toBe(0);
  });
});
