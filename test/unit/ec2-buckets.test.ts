// ManagedProvider with a driver that declares its cloud's buckets (as the EC2 driver does): each
// call takes its cost from each bucket, a bucket of one action does not slow another, one
// clientToken per create across its retries, and a capacity answer pauses creates of that flavor.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { CapacityError, CloudServerError } from '../../src/errors.js';
import { ManagedProvider } from '../../providers/managed-provider.js';
import { ec2RateLimits } from '../../providers/ec2/limits.js';
import type { CloudServer, CreateServerRequest, ProviderDriver } from '../../providers/provider.js';

const T0 = 1_000_000;
const flush = () => new Promise((r) => setImmediate(r));

function fakeCloud(clock: ManualClock) {
  const calls: { op: string; at: number; req?: CreateServerRequest }[] = [];
  const failNextCreate: Error[] = [];
  let n = 0;
  const server = (req: CreateServerRequest): CloudServer => ({ id: `i-${++n}`, name: req.name, status: 'building', rawStatus: 'pending', ip: null, az: null, metadata: req.metadata, fault: null, created: clock.now() });
  const driver: ProviderDriver = {
    name: 'fake-ec2',
    rateLimits: ec2RateLimits({ 'run-instances-resource': { burst: 4, refill: 5 }, 'non-mutating': { burst: 3, refill: 10 } }),
    async createServer(req) {
      calls.push({ op: 'createServer', at: clock.now() - T0, req });
      const err = failNextCreate.shift();
      if (err) throw err;
      return server(req);
    },
    async listServers() {
      calls.push({ op: 'listServers', at: clock.now() - T0 });
      return [];
    },
    async getServer() {
      throw new Error('unused');
    },
    async deleteServer() {},
    async listFlavors() {
      return [];
    },
    async getQuota() {
      calls.push({ op: 'getQuota', at: clock.now() - T0 });
      return { maxInstances: null, maxCores: null, maxRamMb: null, usedInstances: 0, usedCores: 0, usedRamMb: 0 };
    },
    async listImages() {
      return [];
    },
    async createImage() {
      return 'ami-1';
    },
    async deleteImage() {},
    async close() {},
  };
  return { driver, calls, failNextCreate };
}

function setup() {
  const clock = new ManualClock(T0);
  const cloud = fakeCloud(clock);
  // rate 10 s a call: were the config bucket used, everything here would crawl.
  const api = new ManagedProvider(cloud.driver, { clock, rateSeconds: 10, burst: 1, pollIntervalMs: 1000, retry: { maxRetries: 3, minDelayMs: 100, maxDelayMs: 100, jitter: 'none' }, random: () => 0 });
  async function drive<T>(p: Promise<T>, stepMs = 50, steps = 200): Promise<T> {
    let done = false;
    const watched = p.finally(() => (done = true));
    watched.catch(() => undefined);
    await flush();
    for (let i = 0; i < steps && !done; i++) await clock.advance(stepMs);
    return watched;
  }
  return { clock, api, drive, ...cloud };
}

const req = (name: string, flavorId = 't3.small'): CreateServerRequest => ({ name, imageId: 'ami-1', flavorId, metadata: { nodepool_node_id: name } });

describe('declared buckets', () => {
  it('creates follow the RunInstances resource bucket (4 less one of headroom at once, then 5 a second); reads their own bucket, not the config rate', async () => {
    const { api, drive, calls } = setup();
    await drive(Promise.all([...Array.from({ length: 6 }, (_, i) => api.createServer(req(`n${i}`))), api.getQuota(), api.getQuota(), api.getQuota()]));
    expect(calls.filter((c) => c.op === 'createServer').map((c) => c.at)).toEqual([0, 0, 0, 200, 400, 600]);
    // getQuota costs a DescribeAccountAttributes and a DescribeInstances token: burst 3 - 1, then 10 a second.
    expect(calls.filter((c) => c.op === 'getQuota').map((c) => c.at)).toEqual([0, 0, 100]);
    await api.close();
  });

  it('every retry of one create carries the same clientToken; another create gets another', async () => {
    const { api, drive, calls, failNextCreate } = setup();
    failNextCreate.push(new CloudServerError('500 InternalError', 500));
    await drive(api.createServer(req('a')));
    await drive(api.createServer(req('b')));
    const tokens = calls.filter((c) => c.op === 'createServer').map((c) => c.req!.clientToken);
    expect(tokens).toHaveLength(3);
    expect(tokens[0]).toBeTruthy();
    expect(tokens[1]).toBe(tokens[0]);
    expect(tokens[2]).not.toBe(tokens[0]);
  });

  it('a CapacityError pauses creates of that flavor (no call) for two minutes; other flavors go on', async () => {
    const { api, drive, calls, failNextCreate, clock } = setup();
    failNextCreate.push(new CapacityError('InsufficientInstanceCapacity', 500));
    await expect(drive(api.createServer(req('a')))).rejects.toBeInstanceOf(CapacityError);
    await expect(drive(api.createServer(req('b')))).rejects.toThrow(/paused/);
    expect(calls.filter((c) => c.op === 'createServer')).toHaveLength(1);
    await drive(api.createServer(req('c', 't3.medium')));
    await clock.advance(120_000);
    expect(api.flavorPaused('t3.small')).toBe(false);
    await drive(api.createServer(req('d')));
    expect(calls.filter((c) => c.op === 'createServer').map((c) => c.req!.name)).toEqual(['a', 'c', 'd']);
  });
});
