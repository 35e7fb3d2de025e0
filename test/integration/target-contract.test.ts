// Runs the Target contract against both targets: JenkinsTarget over HTTP to the simulated
// master's REST API, and GearmanTarget through a real gearmand to the simulated master serving
// node_assign:<target> and node_revoke:<manager>. "Registered" is asked of the master itself.
// Both masters run builds for the busy cases: a Gearman job `build:contract-busy:contract-busy`
// (as Zuul submits one) that only the node carrying that label takes, on a build clock that never
// moves, so the build runs until its node is removed.
import { defineTargetContract, type TargetContractHarness } from '../contract/target-contract.js';
import { startGearmand } from '../helpers/gearmand.js';
import { waitFor } from '../helpers/wait.js';
import { ManualClock } from '../../src/clock.js';
import { GearmanAdminClient } from '../../src/gearman/admin-client.js';
import type { GearmanServerAddress } from '../../src/sim/gearmanode.js';
import { startLoad, type Load } from '../../src/sim/load.js';
import { startSimMaster, type SimMaster, type SimMasterOptions } from '../../src/sim/master.js';
import { GearmanTarget } from '../../src/targets/gearman.js';
import { JenkinsTarget } from '../../src/targets/jenkins.js';
import { silentLogger } from '../../src/log.js';

const USER = 'nodepool';
const TOKEN = '5f0e3c2b1a09f8e7d6c5b4a392817060';

function onMaster(sim: SimMaster, via: 'rest' | 'gearman') {
  return (name: string) => sim.nodes().some((n) => n.name === name && n.via === via);
}

function schedulableOn(sim: SimMaster, via: 'rest' | 'gearman') {
  return (name: string) => sim.nodes().some((n) => n.name === name && n.via === via && !n.temporarilyOffline);
}

function portOn(sim: SimMaster) {
  return (name: string) => sim.nodes().find((n) => n.name === name)?.port;
}

const BUSY_LABEL = 'contract-busy';
/** The one job the masters know: only a node carrying BUSY_LABEL registers its build functions. */
const busyJobs: Pick<SimMasterOptions, 'jobs' | 'clock' | 'buildDurationMs'> = {
  jobs: [{ name: 'contract-busy', labels: [BUSY_LABEL] }],
  // Never advanced: a build started stays running until its node is deleted.
  clock: new ManualClock(Date.now()),
  buildDurationMs: 60_000,
};

/** Queues builds through gearmand and waits until the master runs one on the named node. */
function buildRunner(sim: SimMaster, server: GearmanServerAddress, loads: Load[]) {
  return {
    label: BUSY_LABEL,
    async start(name: string): Promise<void> {
      // The node registers its build functions asynchronously after it is added: wait for its worker.
      await waitFor(() => sim.nodes().find((n) => n.name === name)?.registered === true, { what: `node ${name} serving its build functions`, timeoutMs: 10_000 });
      loads.push(startLoad({ gearman: [server], jobs: [{ name: 'contract-busy', label: BUSY_LABEL }], count: 1, ratePerSecond: 100 }));
      await waitFor(() => sim.builds().some((b) => b.node === name && b.result === null), { what: `a build running on ${name}`, timeoutMs: 10_000 });
    },
  };
}

/** The master's nodes and the mutating REST requests it served: what a read-only call must leave as it was. */
function masterState(sim: SimMaster) {
  return () => ({
    nodes: sim
      .nodes()
      .map((n) => ({ name: n.name, via: n.via, labels: n.labels, description: n.description, port: n.port, busy: n.busy, buildsRun: n.buildsRun, temporarilyOffline: n.temporarilyOffline }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    writes: Object.entries(sim.requests())
      .filter(([key]) => !key.startsWith('GET ') && !key.startsWith('HEAD '))
      .sort(([a], [b]) => a.localeCompare(b)),
    builds: sim.builds().length,
  });
}

/** What the harnesses of both targets ask of the simulated master. */
type OnMaster = 'registered' | 'schedulable' | 'portOnMaster' | 'builds' | 'masterState' | 'teardown';

/**
 * A real gearmand and the simulated master on it (`simOpts` and the busy job), then the harness:
 * `make` adds the target's own part; the master is asked about nodes registered `via`; teardown
 * stops the loads, the master and gearmand. A setup that fails stops what it started.
 */
async function onSimMaster(
  via: 'rest' | 'gearman',
  simOpts: Partial<SimMasterOptions>,
  make: (master: SimMaster, server: GearmanServerAddress) => Promise<Omit<TargetContractHarness, OnMaster>> | Omit<TargetContractHarness, OnMaster>,
): Promise<TargetContractHarness> {
  const gearmand = await startGearmand();
  const loads: Load[] = [];
  let sim: SimMaster | null = null;
  try {
    const server = { host: gearmand.host, port: gearmand.port };
    sim = await startSimMaster({ gearman: [server], user: USER, apiToken: TOKEN, log: silentLogger, ...simOpts, ...busyJobs });
    const master = sim;
    return {
      ...(await make(master, server)),
      registered: onMaster(master, via),
      schedulable: schedulableOn(master, via),
      portOnMaster: portOn(master),
      builds: buildRunner(master, server, loads),
      masterState: masterState(master),
      async teardown() {
        await Promise.allSettled(loads.map((l) => l.stop()));
        await master.close();
        await gearmand.stop();
      },
    };
  } catch (error) {
    await sim?.close();
    await gearmand.stop();
    throw error;
  }
}

// gearmand only to run builds on an agent (the Gearman plugin's side); registration is REST.
defineTargetContract('JenkinsTarget (simulated master over HTTP)', () =>
  onSimMaster('rest', {}, (master) => {
    const jenkins = (apikey: string) =>
      new JenkinsTarget({ name: 'jenkins01', url: master.jenkinsUrl, user: USER, apikey, credentialsId: 'ssh-cred', log: silentLogger, timeoutMs: 10_000 });
    return {
      target: jenkins(TOKEN),
      existsAsksMaster: true,
      freshTarget: () => jenkins(TOKEN),
      badCredentialsTarget: () => jenkins('not-the-token'),
    };
  }),
);

// Gearman has no authentication (no badCredentialsTarget) and no "which nodes do you hold"
// request (existsAsksMaster stays false): those cases skip.
defineTargetContract('GearmanTarget (real gearmand, simulated master as manager)', () =>
  onSimMaster('gearman', { gearmanTargetName: 'contract', managerName: 'sim-manager' }, async (_master, server) => {
    // The master's management worker registers asynchronously: wait until gearmand lists it.
    const admin = new GearmanAdminClient({ host: server.host, port: server.port });
    try {
      await waitFor(async () => {
        const rows = await admin.status();
        return ['node_assign:contract', 'node_revoke:sim-manager'].every((fn) => (rows.find((r) => r.function === fn)?.workers ?? 0) > 0);
      }, { what: 'the simulated master serving node_assign and node_revoke', timeoutMs: 10_000 });
    } finally {
      await admin.close();
    }
    const gearman = () => new GearmanTarget({ name: 'contract', servers: [server], log: silentLogger, timeoutMs: 10_000, adminTimeoutMs: 5000 });
    return { target: gearman(), freshTarget: gearman };
  }),
);
