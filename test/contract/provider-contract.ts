// The Provider contract: every cloud driver (OpenStack, EC2, ...) runs this one suite against
// its emulator. A harness adapts the cloud's knobs (quota, rate limit, credentials, time) so the
// suite itself never mentions a cloud.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// Cases whose names start with "[emulator]" need a knob only an emulator has (rate limiting on
// demand, injected faults, a conductor quota, a cloud with chosen networks); a harness for a
// real cloud leaves those hooks out and the cases skip.
import { AuthError, BadRequestError, IncompleteListError, NetworkConfigError, NotFoundError, QuotaExceededError, RateLimitedError } from '../../src/errors.js';
import { chooseFlavor, type CloudServer, type CreateServerRequest, type NetworkChoice, type ProviderDriver } from '../../providers/provider.js';

/** A second cloud of the same kind, made for one case (e.g. with chosen networks). */
export interface ScratchCloud {
  driver: ProviderDriver;
  imageId: string;
  flavorId: string;
  settle(): Promise<void>;
  close(): Promise<void>;
}

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
  /** [emulator] A driver whose cloud rate-limits it within a few calls (e.g. a tiny budget, time frozen). The suite closes it. */
  rateLimitedDriver?(): Promise<ProviderDriver> | ProviderDriver;
  /** [emulator] A fresh cloud whose project sees exactly these networks (ipVersion 6: an IPv6-only subnet). */
  cloudWithNetworks?(networks: { name: string; ipVersion?: 4 | 6 }[]): Promise<ScratchCloud>;
  /** [emulator] Switches the cloud to checking quota in the conductor: creates answer 202, over-quota boots end in ERROR. */
  conductorQuota?(on: boolean): Promise<void> | void;
  /** [emulator] Injects a pagination fault into server and image lists (null: off). */
  breakPagination?(mode: 'repeat-marker' | 'page-404' | 'page-503' | 'repeat-item' | null): Promise<void> | void;
  /** The cloud finishes snapshots (an emulator does; the test rig's fake hypervisor leaves them queued): the snapshot case then waits for active. */
  snapshotsBecomeActive?: boolean;
  /**
   * Makes new servers end in the cloud's error state (with a fault) until switched off (EC2: a
   * launch that goes pending -> terminated with Server.InternalError); the case skips when absent.
   */
  failBoots?(on: boolean): Promise<void> | void;
  /** How many list-servers API calls the cloud has answered so far; proves pagination when given. */
  listCalls?(): number;
  /** A well-formed id of a server that does not exist. Default: a random-looking UUID. */
  missingServerId?: string;
  /** Polling rounds before a wait fails. Default 200. */
  maxRounds?: number;
  /**
   * Metadata the daemon puts on every server (model.serverMetadata's owner tag), added to every
   * request of the suite: a driver that lists only servers carrying it (EC2 filters by tag) needs it.
   */
  metadata?: Record<string, string>;
  /** false: the cloud has no `networks: none` (an EC2 instance always has its subnet's private address); that case skips. Default true. */
  networksNone?: boolean;
  /** The cloud makes creates idempotent by CreateServerRequest.clientToken (EC2's ClientToken): the token case runs. */
  idempotentCreate?: boolean;
  /** false: the cloud's throttling answer carries no Retry-After (EC2): retryAfterMs must be null, so callers back off with jitter. Default true. */
  retryAfter?: boolean;
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
      metadata: { ...h.metadata, 'nodepool-provider': name, 'nodepool-node': String(serial) },
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
        await h.conductorQuota?.(false);
        await h.breakPagination?.(null);
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

    it('the server reaches active with an IPv4 address (listed in addresses)', async () => {
      const s = await server();
      const active = await until('active', async () => {
        const got = await h.driver.getServer(s.id);
        expect(got.status).not.toBe('error');
        return got.status === 'active' ? got : undefined;
      });
      expect(active.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(active.addresses?.some((a) => a.addr === active.ip && a.version === 4)).toBe(true);
      expect(active.fault).toBeNull();
    });

    it('a server booted with networks: none goes active with no address', async (ctx) => {
      if (h.networksNone === false) return ctx.skip();
      const s = await create({ networks: 'none' });
      const active = await until('active', async () => {
        const got = await h.driver.getServer(s.id);
        expect(got.status).not.toBe('error');
        return got.status === 'active' ? got : undefined;
      });
      expect(active.ip).toBeNull();
      expect(active.addresses).toEqual([]);
      await h.driver.deleteServer(s.id);
      created.delete(s.id);
    });

    async function scratchActive(c: ScratchCloud, networks: NetworkChoice): Promise<CloudServer> {
      const s = await c.driver.createServer({ name: `contract-net-${++serial}`, imageId: c.imageId, flavorId: c.flavorId, metadata: {}, networks });
      for (let i = 0; i < (h.maxRounds ?? 200); i++) {
        const got = await c.driver.getServer(s.id);
        if (got.status === 'active' || got.status === 'error') return got;
        await c.settle();
      }
      throw new Error(`${name}: scratch server never left building`);
    }

    it('[emulator] networks auto: one visible network boots on it, several or none are a NetworkConfigError', async (ctx) => {
      if (!h.cloudWithNetworks) return ctx.skip();
      const one = await h.cloudWithNetworks([{ name: 'only-net' }]);
      try {
        const s = await scratchActive(one, 'auto');
        expect(s.status).toBe('active');
        expect(s.addresses).toEqual([expect.objectContaining({ network: 'only-net', version: 4, addr: s.ip })]);
      } finally {
        await one.close();
      }
      const two = await h.cloudWithNetworks([{ name: 'net-a' }, { name: 'net-b' }]);
      try {
        const err = await rejection(two.driver.createServer({ name: 'contract-two', imageId: two.imageId, flavorId: two.flavorId, metadata: {}, networks: 'auto' }));
        expect(err).toBeInstanceOf(NetworkConfigError);
        expect((err as NetworkConfigError).code).toBe('network-config');
        expect((err as Error).message).toMatch(/several networks.*Multiple possible networks found/);
        // A named network still works there.
        const s = await scratchActive(two, [{ name: 'net-b' }]);
        expect(s.addresses?.[0]?.network).toBe('net-b');
      } finally {
        await two.close();
      }
      const none = await h.cloudWithNetworks([]);
      try {
        const err = await rejection(none.driver.createServer({ name: 'contract-none', imageId: none.imageId, flavorId: none.flavorId, metadata: {}, networks: 'auto' }));
        expect(err).toBeInstanceOf(NetworkConfigError);
        expect((err as Error).message).toMatch(/Unable to automatically allocate a network for project/);
        const s = await scratchActive(none, 'none');
        expect(s).toMatchObject({ status: 'active', ip: null, addresses: [] });
      } finally {
        await none.close();
      }
    });

    it('[emulator] a server on an IPv6-only network reports its IPv6 address', async (ctx) => {
      if (!h.cloudWithNetworks) return ctx.skip();
      const c = await h.cloudWithNetworks([{ name: 'v6-net', ipVersion: 6 }]);
      try {
        const s = await scratchActive(c, 'auto');
        expect(s.status).toBe('active');
        expect(s.ip).toMatch(/:/);
        expect(s.addresses).toEqual([{ addr: s.ip, version: 6, type: 'fixed', network: 'v6-net' }]);
      } finally {
        await c.close();
      }
    });

    it('[emulator] a quota found by the conductor: the create is accepted, the server goes error with fault 413', async (ctx) => {
      if (!h.conductorQuota) return ctx.skip();
      await server();
      const used = (await h.driver.listServers()).length;
      await h.setQuota(used);
      await h.conductorQuota(true);
      let failed: CloudServer;
      try {
        const s = await create();
        failed = await until('error', async () => {
          const got = await h.driver.getServer(s.id);
          expect(got.status).not.toBe('active');
          return got.status === 'error' ? got : undefined;
        });
      } finally {
        await h.conductorQuota(false);
        await h.setQuota(1000);
      }
      expect(failed.faultCode).toBe(413);
      expect(failed.fault).toMatch(/^Quota exceeded for instances: Requested 1, but already used \d+ of \d+ instances$/);
    });

    it('[emulator] a broken pagination chain is an IncompleteListError, never a partial list', async (ctx) => {
      if (!h.breakPagination) return ctx.skip();
      await server();
      await Promise.all(Array.from({ length: Math.max(0, h.pageSize + 1 - (await h.driver.listServers()).length) }, () => create()));
      for (const mode of ['repeat-marker', 'page-404', 'page-503'] as const) {
        await h.breakPagination(mode);
        try {
          const err = await rejection(h.driver.listServers());
          expect(err, mode).toBeInstanceOf(IncompleteListError);
          expect((err as IncompleteListError).code).toBe('incomplete-list');
          expect((err as IncompleteListError).retryable).toBe(true);
        } finally {
          await h.breakPagination(null);
        }
      }
      expect((await h.driver.listServers()).length).toBeGreaterThan(h.pageSize);
    });

    it('[emulator] a server that real Nova lists on two pages is listed once', async (ctx) => {
      if (!h.breakPagination) return ctx.skip();
      await server();
      await Promise.all(Array.from({ length: Math.max(0, h.pageSize + 1 - (await h.driver.listServers()).length) }, () => create()));
      const expected = (await h.driver.listServers()).map((s) => s.id).sort();
      await h.breakPagination('repeat-item');
      try {
        expect((await h.driver.listServers()).map((s) => s.id).sort()).toEqual(expected);
      } finally {
        await h.breakPagination(null);
      }
    });

    it('snapshots an active server into an image carrying its metadata, and deletes the image', async () => {
      const s = await server();
      await until('active', async () => ((await h.driver.getServer(s.id)).status === 'active' ? true : undefined));
      const name = `contract-snap-${process.pid}-${++serial}`;
      const id = await h.driver.createImage(s.id, name, { ...h.metadata, nodepool_image_build: String(serial) });
      try {
        const listed = await until('the snapshot in the image list', async () => (await h.driver.listImages()).find((i) => i.id === id));
        expect(listed.name).toBe(name);
        expect(listed.metadata.nodepool_image_build).toBe(String(serial));
        expect(['building', 'active']).toContain(listed.status);
        if (h.snapshotsBecomeActive) {
          await until('the snapshot to become active', async () => ((await h.driver.listImages()).find((i) => i.id === id)?.status === 'active' ? true : undefined));
        }
      } finally {
        await h.driver.deleteImage(id);
      }
      expect((await h.driver.listImages()).some((i) => i.id === id)).toBe(false);
      expect(await rejection(h.driver.deleteImage(id))).toBeInstanceOf(NotFoundError);
    });

    it('a create sent twice with one clientToken makes one server (a retried lost answer)', async (ctx) => {
      if (!h.idempotentCreate) return ctx.skip();
      const r = request({ clientToken: `contract-token-${process.pid}-${serial}` });
      const a = await h.driver.createServer(r);
      created.add(a.id);
      const b = await h.driver.createServer(r);
      expect(b.id).toBe(a.id);
      expect((await h.driver.listServers()).filter((x) => x.name === r.name)).toHaveLength(1);
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

    it('[emulator] rate limiting answers RateLimitedError with retryAfterMs', async (ctx) => {
      if (!h.rateLimitedDriver) return ctx.skip();
      const d = await h.rateLimitedDriver();
      try {
        let err: unknown;
        for (let i = 0; i < 50 && !err; i++) err = await d.listFlavors().then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(RateLimitedError);
        const ms = (err as RateLimitedError).retryAfterMs;
        if (h.retryAfter === false) {
          expect(ms).toBeNull();
        } else {
          expect(ms).not.toBeNull();
          expect(ms).toBeGreaterThan(0);
        }
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
      // Deleting it is final: it leaves getServer and the list like any deleted server.
      await h.driver.deleteServer(s.id);
      await until('the failed server gone', () =>
        h.driver.getServer(s.id).then(
          () => undefined,
          (err: unknown) => (err instanceof NotFoundError ? true : Promise.reject(err)),
        ),
      );
      expect((await h.driver.listServers()).some((x) => x.id === s.id)).toBe(false);
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
