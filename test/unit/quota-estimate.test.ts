import { describe, expect, it } from 'vitest';
import { QuotaEstimate } from '../../src/quota-estimate.js';

const quota = { maxInstances: 10, maxCores: 20, maxRamMb: 20480, usedInstances: 4, usedCores: 10, usedRamMb: 8192 };

describe('QuotaEstimate', () => {
  it('gives the totals we may hold: the maximum minus what others use, measured with our servers\' own sizes', () => {
    const q = new QuotaEstimate();
    // Ours: one 2-core/2 GiB and one 4-core/4 GiB server; others use 2 instances, 4 cores, 2 GiB.
    q.update(quota, [
      { vcpus: 2, ramMb: 2048 },
      { vcpus: 4, ramMb: 4096 },
    ]);
    expect(q.limits()).toEqual({ instances: 8, cores: 16, ramMb: 18432 });
    expect(q.cloudLimit()).toBe(8);
  });

  it('treats a server of unknown size as using nothing of ours (its use counts as others\')', () => {
    const q = new QuotaEstimate();
    q.update(quota, [undefined]);
    expect(q.limits()).toEqual({ instances: 7, cores: 10, ramMb: 12288 });
  });

  it('shrinks the instance limit on an over-quota answer until the next reading; unlimited stays null', () => {
    const q = new QuotaEstimate();
    expect(q.cloudLimit()).toBeNull();
    q.shrinkTo(3);
    expect(q.cloudLimit()).toBe(3);
    q.update({ ...quota, maxCores: null, maxRamMb: null }, []);
    expect(q.limits()).toEqual({ instances: 6, cores: null, ramMb: null });
  });
});
