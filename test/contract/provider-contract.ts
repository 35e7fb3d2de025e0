// The Provider contract: every cloud driver (OpenStack, EC2, ...) runs this one suite against
// its emulator. A harness adapts the cloud's knobs (quota, rate limit, credentials, time) so the
// suite itself never mentions a cloud.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, BadRequestError, NotFoundError, QuotaExceededError, RateLimitedError } from '../../src/errors.js';
import { chooseFlavor, type CloudServer, type CreateServerRequest, type ProviderDriver } from '../../providers/provider.js';

export interface ProviderContractHarness {
  /** The driver under test, logged in with good credentials. */
  driver: ProviderDriver;
  /** An image the cloud can boot, and a flavor/instance type for it. */
  imageId: string;
  flavorId: string;
  /** Servers per page the driver asks for (or the cloud serves); the suite lists more than this. */
  pageSize: number;
  /** Sets the project's instance quota in the cloud. */
  setQuota(instances: number): Promise<void> | void;
  /**
   * Lets the cloud make progress between polls (advance an emulator's manual clock, or wait a
   * few milliseconds). The suite polls a bounded number of times, calling this in between.
   */
  settle(): Promise<void>;
  /** A driver for the same cloud with a wrong password/secret. The suite closes it. */
  badCredentialsDriver(): Promise<ProviderDriver> | ProviderDriver;
  /** A driver whose cloud rate-limits it within a few calls (e.g. a tiny budget, time frozen). The suite closes it. */
  rateLimitedDriver(): Promise<ProviderDriver> | ProviderDriver;
  /** Makes new servers end in the cloud's error state (with a fault) until switched off; the case skips when absent. */
  failBoots?(on: boolean): Promise<void> | void;
  /** How many list-servers API calls the cloud has answered so far; proves pagination when given. */
  listCalls?(): number;
  /** A well-formed id of a server that does not exist. Default: a random-looking UUID. */
  missingServerId?: string;
  /** Polling rounds before a wait fails. Default 200. */
  maxRounds?: number;
  teardown(): Promise<void>;
}

export function defineProviderContract(name: string, setup: () => Promise<ProviderContractHarness>): void {
  describe(`Provider contract: ${name}`, () => {
    let h: ProviderContractHarness;
    let serial = 0;
    const created = new Set<string>();
    let first: Promise<CloudServer> | null = null;

    const request = (over: Partial<CreateServerRequest> = {}): CreateServerRequest => ({
      name: `contract-${process.pid}-${++serial}`,
      imageId: h.imageId,
      flavorId: h.flavorId,
      metadata: { 'nodepool-provider': name, 'nodepool-node': String(serial) },
      ...over,
    });

    async function create(over: Partial<CreateServerRequest> = {}): Promise<CloudServer> {
      const s = await h.driver.createServer(request(over));
      created.add(s.id);
      return s;
    }

    /** The one server most cases look at, created on first use. */
    function server(): Promise<CloudServer> {
      first ??= create();
      return first;
    }

    async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
      const rounds = h.maxRounds ?? 200;
      for (let i = 0; i < rounds; i++) {
        const v = await probe();
        if (v !== undefined) return v;
        await h.settle();
      }
      throw new Error(`${name}: gave up waiting for ${what} after ${rounds} rounds`);
    }

    async function rejection(p: Promise<unknown>): Promise<unknown> {
      return p.then(
        () => {
          throw new Error('expected the call to fail');
        },
        (err: unknown) => err,
      );
    }

    beforeAll(async () => {
      h = await setup();
    });

    afterAll(async () => {
      if (!h) return;
      try {
        await h.failBoots?.(false);
        for (const id of created) await h.driver.deleteServer(id).catch(() => undefined);
        await h.driver.close();
      } finally {
        await h.teardown();
      }
    });

    it('creates a server that appears in the list with its name and metadata', async () => {
      const s = await server();
      expect(s.id).toBeTruthy();
      const listed = await until('the new server in the list', async () => (await h.driver.listServers()).find((x) => x.id === s.id));
      expect(listed.name).toBe(s.name);
      expect(listed.metadata).toMatchObject({ 'nodepool-provider': name, 'nodepool-node': s.metadata['nodepool-node'] });
      expect(['building', 'active']).toContain(listed.status);
      expect(listed.created).toBeGreaterThan(0);
    });

    it('gets a server by id', async () => {
      const s = await server();
      const got = await h.driver.getServer(s.id);
      expect(got).toMatchObject({ id: s.id, name: s.name, metadata: s.metadata });
      expect(typeof got.rawStatus).toBe('string');
    });

    it('the server reaches active with an IPv4 address', async () => {
      const s = await server();
      const active = await until('active', async () => {
        const got = await h.driver.getServer(s.id);
        expect(got.status).not.toBe('error');
        return got.status === 'active' ? got : undefined;
      });
      expect(active.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(active.fault).toBeNull();
    });

    it('deletes a server: it leaves the list and get answers NotFoundError', async () => {
      const s = await create();
      await h.driver.deleteServer(s.id);
      await until('the server to leave the list', async () => ((await h.driver.listServers()).some((x) => x.id === s.id) ? undefined : true));
      expect(await rejection(h.driver.getServer(s.id))).toBeInstanceOf(NotFoundError);
      created.delete(s.id);
    });

    it('deleting a missing server answers NotFoundError', async () => {
      const id = h.missingServerId ?? '5b2c8a4e-0d1f-4c3a-9e7b-000000000000';
      const err = await rejection(h.driver.deleteServer(id));
      expect(err).toBeInstanceOf(NotFoundError);
      expect((err as Error).message).toMatch(/404|not ?found/i);
    });

    it('a create beyond the quota answers QuotaExceededError', async () => {
      await server();
      const used = (await h.driver.listServers()).length;
      await h.setQuota(used);
      try {
        expect(await rejection(create())).toBeInstanceOf(QuotaExceededError);
      } finally {
        await h.setQuota(1000);
      }
    });

    it('rate limiting answers RateLimitedError with retryAfterMs', async () => {
      const d = await h.rateLimitedDriver();
      try {
        let err: unknown;
        for (let i = 0; i < 50 && !err; i++) err = await d.listFlavors().then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(RateLimitedError);
        const ms = (err as RateLimitedError).retryAfterMs;
        expect(ms).not.toBeNull();
        expect(ms).toBeGreaterThan(0);
        expect((err as RateLimitedError).retryable).toBe(true);
      } finally {
        await d.close();
      }
    });

    it('a malformed create answers BadRequestError', async () => {
      expect(await rejection(create({ flavorId: 'no-such-flavor' }))).toBeInstanceOf(BadRequestError);
    });

    it('wrong credentials answer AuthError', async () => {
      const d = await h.badCredentialsDriver();
      try {
        expect(await rejection(d.listServers())).toBeInstanceOf(AuthError);
      } finally {
        await d.close();
      }
    });

    it('a failed boot reaches error with the cloud\'s fault', async (ctx) => {
      if (!h.failBoots) return ctx.skip();
      await h.failBoots(true);
      let s: CloudServer;
      try {
        s = await create();
      } finally {
        await h.failBoots(false);
      }
      const failed = await until('error', async () => {
        const got = await h.driver.getServer(s.id);
        expect(got.status).not.toBe('active');
        return got.status === 'error' ? got : undefined;
      });
      expect(failed.fault).toEqual(expect.any(String));
      expect(failed.fault!.length).toBeGreaterThan(0);
    });

    it('lists every server across more than one page', async () => {
      await server();
      const have = (await h.driver.listServers()).length;
      const extra = await Promise.all(Array.from({ length: Math.max(0, h.pageSize + 1 - have) }, () => create()));
      const before = h.listCalls?.();
      const all = await h.driver.listServers();
      expect(all.length).toBeGreaterThan(h.pageSize);
      for (const id of [...extra.map((s) => s.id), (await server()).id]) expect(all.some((s) => s.id === id)).toBe(true);
      expect(new Set(all.map((s) => s.id)).size).toBe(all.length);
      if (before !== undefined) expect(h.listCalls!() - before).toBeGreaterThanOrEqual(2);
    });

    it('reads flavors and quota back', async () => {
      const flavors = await h.driver.listFlavors();
      const f = flavors.find((x) => x.id === h.flavorId);
      expect(f).toBeDefined();
      expect(f!.ramMb).toBeGreaterThan(0);
      expect(f!.vcpus).toBeGreaterThan(0);
      await server(); // at least one server, so usage cannot be right by being zero
      await h.setQuota(37);
      try {
        const q = await h.driver.getQuota();
        expect(q.maxInstances).toBe(37);
        const count = (await h.driver.listServers()).length;
        expect(q.usedInstances).toBe(count);
        // Every server the suite creates has h.flavorId: usage is what the suite created.
        expect(q.usedCores).toBe(count * f!.vcpus);
        expect(q.usedRamMb).toBe(count * f!.ramMb);
      } finally {
        await h.setQuota(1000);
      }
    });

    it('chooseFlavor picks the smallest matching flavor of the cloud', async () => {
      const flavors = await h.driver.listFlavors();
      expect(flavors.length).toBeGreaterThan(0);
      const minRam = Math.min(...flavors.map((f) => f.ramMb));
      expect(chooseFlavor(flavors, 0)?.ramMb).toBe(minRam);
      const biggest = flavors.reduce((a, b) => (b.ramMb > a.ramMb ? b : a));
      expect(chooseFlavor(flavors, biggest.ramMb)?.ramMb).toBe(biggest.ramMb);
      expect(chooseFlavor(flavors, biggest.ramMb + 1)).toBeUndefined();
      const named = chooseFlavor(flavors, 0, biggest.name);
      expect(named?.name).toContain(biggest.name);
      expect(named!.ramMb).toBeLessThanOrEqual(biggest.ramMb);
    });
  });
}
