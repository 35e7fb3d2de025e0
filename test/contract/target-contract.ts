// The Target contract: every way of handing nodes to a CI master (Jenkins REST, Gearman
// node_assign, ...) runs this one suite against a real or simulated master. The harness answers
// "does the master know this node?" from the master's side, so the suite never trusts the target
// under test to report on itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetAuthError, TargetError } from '../../src/errors.js';
import type { Registration, Target, TargetAgent, TargetNode } from '../../src/targets/target.js';

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
  /**
   * Runs a build on a node from the master's side: `label` is one only the suite's busy node
   * carries (so the master schedules the build on it and nowhere else); `start` queues a build for
   * it and resolves once the master runs it on that node. The build runs until the node is
   * removed. Absent: the busy cases skip.
   */
  builds?: { label: string; start(name: string): Promise<void> };
  /**
   * Every change the master has seen, as a plain value to compare (its nodes with their
   * schedulable and build state, and the mutating requests it served). The read-only cases
   * (view, listAgents) check it is unchanged; absent, they check the suite's nodes only.
   */
  masterState?(): Promise<unknown> | unknown;
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

    /** The master's state and, for the suite's live nodes, presence and schedulability. */
    async function everything(): Promise<unknown> {
      const nodes: [string, boolean, boolean][] = [];
      for (const name of [...live.keys()].sort()) nodes.push([name, await h.registered(name), await h.schedulable(name)]);
      return { nodes, master: h.masterState ? await h.masterState() : null };
    }

    const viewSkip = (): string | null => (h.target.view ? null : `${name} has no view(): its nodes are never reconciled`);
    const agentsSkip = (): string | null => (h.target.listAgents ? null : `${name} has no listAgents(): alien-list --targets skips its master`);

    it('view: a registered node is present, idle and online; with history, no builds', async (ctx) => {
      const skip = viewSkip();
      if (skip) return ctx.skip(skip);
      const n = node();
      const reg = await register(h.target, n);
      await masterShows(n.name, true);
      const before = await everything();
      const v = await h.target.view!({ hostname: n.name, manager: reg.manager ?? null });
      expect(v).toMatchObject({ present: true, busy: false, offline: false });
      const withHistory = await h.target.view!({ hostname: n.name, manager: reg.manager ?? null }, { history: true });
      expect(withHistory).toMatchObject({ present: true, busy: false, offline: false });
      // A master that counts builds reports none on a node that never ran one.
      expect(withHistory?.builds ?? 0).toBe(0);
      // Asking changes nothing on the master.
      expect(await everything()).toEqual(before);
    });

    it('view: a node the master does not know answers the absent shape, not a throw or null', async (ctx) => {
      const skip = viewSkip();
      if (skip) return ctx.skip(skip);
      // With the manager a real registration names, so a protocol that routes by manager asks a live one.
      const known = await register(h.target, node());
      const ghost = node();
      const v = await h.target.view!({ hostname: ghost.name, manager: known.manager ?? null });
      expect(v).toMatchObject({ present: false, busy: false, offline: false });
      expect(v?.builds ?? 0).toBe(0);
      // Once unregistered, a node the master knew is absent the same way.
      const n = node();
      const reg = await register(h.target, n);
      await masterShows(n.name, true);
      await unregister(h.target, n.name, reg);
      await masterShows(n.name, false);
      expect(await h.target.view!({ hostname: n.name, manager: reg.manager ?? null })).toMatchObject({ present: false, busy: false });
      expect(await h.registered(ghost.name)).toBe(false);
    });

    it('view: a node taken offline for a hold takes no builds (offline, or absent where a hold revokes it)', async (ctx) => {
      const skip = viewSkip();
      if (skip) return ctx.skip(skip);
      const n = node();
      const reg = await register(h.target, n);
      await masterShows(n.name, true);
      await h.target.takeOffline!({ hostname: n.name, manager: reg.manager ?? null }, 'contract: held', 'hold');
      const v = await h.target.view!({ hostname: n.name, manager: reg.manager ?? null });
      expect(v).not.toBeNull();
      expect(v!.busy).toBe(false);
      expect(!v!.present || v!.offline).toBe(true);
      // The master's own answer agrees.
      expect(v!.present).toBe(await h.registered(n.name));
      await unregister(h.target, n.name, reg);
      await masterShows(n.name, false);
    });

    it('view and listAgents: a node running a build shows busy', async (ctx) => {
      if (!h.target.view && !h.target.listAgents) return ctx.skip(`${name} has neither view() nor listAgents()`);
      if (!h.builds) return ctx.skip('the harness cannot run a build on a node');
      const n = node({ labels: ['contract', h.builds.label] });
      const reg = await register(h.target, n);
      await masterShows(n.name, true);
      await h.builds.start(n.name);
      if (h.target.view) {
        expect(await h.target.view({ hostname: n.name, manager: reg.manager ?? null })).toMatchObject({ present: true, busy: true });
        // history is asked only of an idle node: a busy one answers the same with it.
        expect(await h.target.view({ hostname: n.name, manager: reg.manager ?? null }, { history: true })).toMatchObject({ present: true, busy: true });
      }
      if (h.target.listAgents) {
        const agent = (await h.target.listAgents()).find((a) => a.name === n.name);
        expect(agent).toMatchObject({ name: n.name, busy: true });
      }
    });

    it('listAgents lists a registered node as the master has it, and changes nothing', async (ctx) => {
      const skip = agentsSkip();
      if (skip) return ctx.skip(skip);
      const n = node({ description: 'listed by the contract', labels: ['contract', 'listed'] });
      await register(h.target, n);
      await masterShows(n.name, true);
      const before = await everything();
      const agents: TargetAgent[] = await h.target.listAgents!();
      const agent = agents.find((a) => a.name === n.name);
      expect(agent).toBeDefined();
      expect(agent!.description).toBe('listed by the contract');
      expect([...agent!.labels].sort()).toEqual(['contract', 'listed']);
      expect(agent).toMatchObject({ offline: false, busy: false });
      // Names are unique, and a node the master does not know is not listed.
      expect(new Set(agents.map((a) => a.name)).size).toBe(agents.length);
      expect(agents.some((a) => a.name === `contract-${process.pid}-never`)).toBe(false);
      // Every node the suite still has registered is listed.
      for (const [hostname] of live) if (await h.registered(hostname)) expect(agents.some((a) => a.name === hostname)).toBe(true);
      // Read-only: the master, and every node on it, is as it was.
      await h.target.listAgents!();
      expect(await everything()).toEqual(before);
    });

    it('listAgents lists a node taken offline as offline, and no longer lists an unregistered one', async (ctx) => {
      const skip = agentsSkip();
      if (skip) return ctx.skip(skip);
      const held = node();
      const heldReg = await register(h.target, held);
      const gone = node();
      const goneReg = await register(h.target, gone);
      await masterShows(held.name, true);
      await masterShows(gone.name, true);
      await h.target.takeOffline!({ hostname: held.name, manager: heldReg.manager ?? null }, 'contract: held', 'hold');
      await unregister(h.target, gone.name, goneReg);
      await masterShows(gone.name, false);
      const agents = await h.target.listAgents!();
      expect(agents.some((a) => a.name === gone.name)).toBe(false);
      // Where a hold leaves the node on the master, it is listed offline.
      const a = agents.find((x) => x.name === held.name);
      if (await h.registered(held.name)) expect(a).toMatchObject({ offline: true, busy: false });
      else expect(a).toBeUndefined();
      await unregister(h.target, held.name, heldReg);
      await masterShows(held.name, false);
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
