// The Target contract: every way of handing nodes to a CI master (Jenkins REST, Gearman
// node_assign, ...) runs this one suite against a real or simulated master. The harness answers
// "does the master know this node?" from the master's side, so the suite never trusts the target
// under test to report on itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetAuthError, TargetError } from '../../src/errors.js';
import type { Registration, Target, TargetNode } from '../../src/targets/target.js';

export interface TargetContractHarness {
  /** The target under test, with good credentials. The suite closes it (in its last case). */
  target: Target;
  /** Whether the master has the node now, asked on the master's side (its registry or API), not through the target. */
  registered(name: string): Promise<boolean> | boolean;
  /**
   * Whether exists() asks the master. Jenkins can (GET /computer/NAME/api/json). Gearman has no
   * request for it: GearmanTarget answers from what its own process did, and true for a name it
   * never saw (so nobody deletes or re-registers on a guess). When false or absent, the suite
   * checks only that exists() follows the target's own register and unregister.
   */
  existsAsksMaster?: boolean;
  /**
   * A second instance of the same target: another process, or this daemon after a restart. It
   * must be able to unregister what the first registered, given the stored Registration. The
   * cases that need it skip when absent; the suite closes what it returns.
   */
  freshTarget?(): Promise<Target> | Target;
  /**
   * The same target with wrong credentials. Absent where the protocol has none (Gearman has no
   * authentication): the auth case skips. The suite closes what it returns.
   */
  badCredentialsTarget?(): Promise<Target> | Target;
  /**
   * Whether the master could start a build on the node now, asked on the master's side (Jenkins:
   * an agent that is not temporarily offline; Gearman: a node its manager still holds).
   */
  schedulable(name: string): Promise<boolean> | boolean;
  /** The SSH port the master was given for the node, asked on the master's side. */
  portOnMaster(name: string): Promise<number | undefined> | number | undefined;
  /** How long a master may take to show a change. Default 5000 ms (the harness masters are immediate). */
  settleMs?: number;
  teardown(): Promise<void>;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (err: unknown) => err,
  );
}

export function defineTargetContract(name: string, setup: () => Promise<TargetContractHarness>): void {
  describe(`Target contract: ${name}`, () => {
    let h: TargetContractHarness;
    let serial = 0;
    const others: Target[] = [];
    /** Nodes the suite registered and has not unregistered, with what register answered. */
    const live = new Map<string, Registration>();

    const node = (over: Partial<TargetNode> = {}): TargetNode => {
      const n = ++serial;
      return { name: `contract-${process.pid}-${n}`, host: `198.51.100.${n % 250}`, port: 22, description: `target contract node ${n}`, labels: ['contract', 'small'], ...over };
    };

    async function register(t: Target, n: TargetNode): Promise<Registration> {
      const reg = await t.register(n);
      live.set(n.name, reg);
      return reg;
    }

    async function unregister(t: Target, hostname: string, reg: Registration | undefined): Promise<void> {
      await t.unregister({ hostname, manager: reg?.manager ?? null });
      live.delete(hostname);
    }

    /** Waits, bounded, until the master shows the node (or its absence). */
    async function masterShows(nodeName: string, want: boolean): Promise<void> {
      const deadline = Date.now() + (h.settleMs ?? 5000);
      for (;;) {
        if ((await h.registered(nodeName)) === want) return;
        if (Date.now() > deadline) throw new Error(`${name}: the master ${want ? 'never showed' : 'still shows'} node ${nodeName} after ${h.settleMs ?? 5000} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }

    async function other(make: () => Promise<Target> | Target): Promise<Target> {
      const t = await make();
      others.push(t);
      return t;
    }

    beforeAll(async () => {
      h = await setup();
    });

    afterAll(async () => {
      if (!h) return;
      try {
        for (const [hostname, reg] of live) await h.target.unregister({ hostname, manager: reg.manager ?? null }).catch(() => undefined);
        await Promise.allSettled([h.target.close(), ...others.map((t) => t.close())]);
      } finally {
        await h.teardown();
      }
    });

    it('register makes the node known to the master', async () => {
      const n = node();
      expect(await h.registered(n.name)).toBe(false);
      const reg = await register(h.target, n);
      // A manager, when the protocol names one, is what unregister needs later: a usable name.
      if (reg.manager !== undefined) expect(reg.manager).toMatch(/^\S+$/);
      await masterShows(n.name, true);
    });

    it('the master is given the SSH port', async () => {
      const n = node({ port: 2222 });
      await register(h.target, n);
      await masterShows(n.name, true);
      expect(await h.portOnMaster(n.name)).toBe(2222);
    });

    it('takeOffline takes the node out of the schedulable set, idempotently (a toggle is not toggled back)', async () => {
      expect(h.target.takeOffline).toBeTypeOf('function');
      const n = node();
      const reg = await register(h.target, n);
      await masterShows(n.name, true);
      expect(await h.schedulable(n.name)).toBe(true);
      await h.target.takeOffline!({ hostname: n.name, manager: reg.manager ?? null }, 'contract: held', 'hold');
      expect(await h.schedulable(n.name)).toBe(false);
      await h.target.takeOffline!({ hostname: n.name, manager: reg.manager ?? null }, 'contract: held', 'hold');
      expect(await h.schedulable(n.name)).toBe(false);
      // Unregister still works on a node taken offline.
      await unregister(h.target, n.name, reg);
      await masterShows(n.name, false);
    });

    it('takeOffline of a node the master does not know succeeds', async () => {
      const known = await register(h.target, node());
      await h.target.takeOffline!({ hostname: node().name, manager: known.manager ?? null }, 'contract');
    });

    it('registering the same node twice succeeds ("already exists" is success)', async () => {
      const n = node();
      const first = await register(h.target, n);
      await masterShows(n.name, true);
      const again = await h.target.register(n);
      expect(again).toEqual(first);
      expect(await h.registered(n.name)).toBe(true);
    });

    it('unregister removes the node from the master', async () => {
      const n = node();
      const reg = await register(h.target, n);
      await masterShows(n.name, true);
      await unregister(h.target, n.name, reg);
      await masterShows(n.name, false);
    });

    it('unregistering a node the master does not know succeeds', async () => {
      // With the manager a real registration names (so a protocol that routes by manager reaches
      // a live one), and with none recorded at all.
      const known = await register(h.target, node());
      const ghost = node();
      await expect(h.target.unregister({ hostname: ghost.name, manager: known.manager ?? null })).resolves.toBeUndefined();
      await expect(h.target.unregister({ hostname: ghost.name, manager: null })).resolves.toBeUndefined();
      expect(await h.registered(ghost.name)).toBe(false);
    });

    it('unregistering twice succeeds and leaves the node gone', async () => {
      const n = node();
      const reg = await register(h.target, n);
      await unregister(h.target, n.name, reg);
      await masterShows(n.name, false);
      await expect(h.target.unregister({ hostname: n.name, manager: reg.manager ?? null })).resolves.toBeUndefined();
      expect(await h.registered(n.name)).toBe(false);
    });

    it('exists() follows register and unregister', async () => {
      const n = node();
      const reg = await register(h.target, n);
      await masterShows(n.name, true);
      expect(await h.target.exists(n.name)).toBe(true);
      await unregister(h.target, n.name, reg);
      await masterShows(n.name, false);
      expect(await h.target.exists(n.name)).toBe(false);
    });

    it('exists() asks the master: false for an unknown node, true for one another instance registered', async (ctx) => {
      if (!h.existsAsksMaster) return ctx.skip();
      expect(await h.target.exists(node().name)).toBe(false);
      if (!h.freshTarget) return;
      const n = node();
      await register(await other(h.freshTarget), n);
      await masterShows(n.name, true);
      expect(await h.target.exists(n.name)).toBe(true);
    });

    it('another instance (a restarted daemon) unregisters what this one registered', async (ctx) => {
      if (!h.freshTarget) return ctx.skip();
      const n = node();
      const reg = await register(h.target, n);
      await masterShows(n.name, true);
      // Only what the store keeps survives a restart: the hostname and the manager.
      const restarted = await other(h.freshTarget);
      await unregister(restarted, n.name, { manager: reg.manager });
      await masterShows(n.name, false);
    });

    it('wrong credentials answer TargetAuthError and register nothing', async (ctx) => {
      if (!h.badCredentialsTarget) return ctx.skip();
      const bad = await other(h.badCredentialsTarget);
      const n = node();
      const err = await rejection(bad.register(n));
      expect(err).toBeInstanceOf(TargetAuthError);
      expect((err as TargetAuthError).code).toBe('target-auth');
      expect(await h.registered(n.name)).toBe(false);
      // Removal with the same credentials is refused the same way, not reported as done.
      const mine = node();
      const reg = await register(h.target, mine);
      await masterShows(mine.name, true);
      expect(await rejection(bad.unregister({ hostname: mine.name, manager: reg.manager ?? null }))).toBeInstanceOf(TargetAuthError);
      expect(await h.registered(mine.name)).toBe(true);
    });

    // Last: it closes the target under test.
    it('close() is idempotent, and a closed target fails calls instead of hanging', async () => {
      const t = h.target;
      const before = [...live];
      await Promise.all([t.close(), t.close()]);
      await t.close();
      expect(await rejection(t.register(node()))).toBeInstanceOf(TargetError);
      // Closing the client does not unregister anything from the master.
      for (const [hostname] of before) expect(await h.registered(hostname)).toBe(true);
      // Clean up with a live instance where we can; afterAll ignores the closed one's failures.
      if (h.freshTarget) {
        const cleaner = await other(h.freshTarget);
        for (const [hostname, reg] of before) await unregister(cleaner, hostname, reg);
      }
    });
  });
}
