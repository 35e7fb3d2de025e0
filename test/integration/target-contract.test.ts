// Runs the Target contract against both targets: JenkinsTarget over HTTP to the simulated
// master's REST API, and GearmanTarget through a real gearmand to the simulated master serving
// node_assign:<target> and node_revoke:<manager>. "Registered" is asked of the master itself.
import { defineTargetContract } from '../contract/target-contract.js';
import { startGearmand } from '../helpers/gearmand.js';
import { waitFor } from '../helpers/wait.js';
import { GearmanAdminClient } from '../../src/gearman/admin-client.js';
import { startSimMaster, type SimMaster } from '../../src/sim/master.js';
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

defineTargetContract('JenkinsTarget (simulated master over HTTP)', async () => {
  // No gearman servers: only the REST conversation matters here.
  const sim = await startSimMaster({ gearman: [], user: USER, apiToken: TOKEN, log: silentLogger });
  const jenkins = (apikey: string) =>
    new JenkinsTarget({ name: 'jenkins01', url: sim.jenkinsUrl, user: USER, apikey, credentialsId: 'ssh-cred', log: silentLogger, timeoutMs: 10_000 });
  return {
    target: jenkins(TOKEN),
    registered: onMaster(sim, 'rest'),
    schedulable: schedulableOn(sim, 'rest'),
    portOnMaster: portOn(sim),
    existsAsksMaster: true,
    freshTarget: () => jenkins(TOKEN),
    badCredentialsTarget: () => jenkins('not-the-token'),
    teardown: () => sim.close(),
  };
});

// Gearman has no authentication (no badCredentialsTarget) and no "which nodes do you hold"
// request (existsAsksMaster stays false): those cases skip.
defineTargetContract('GearmanTarget (real gearmand, simulated master as manager)', async () => {
  const gearmand = await startGearmand();
  let sim: SimMaster | null = null;
  try {
    const server = { host: gearmand.host, port: gearmand.port };
    sim = await startSimMaster({ gearman: [server], user: USER, apiToken: TOKEN, log: silentLogger, gearmanTargetName: 'contract', managerName: 'sim-manager' });
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
    const master = sim;
    return {
      target: gearman(),
      registered: onMaster(master, 'gearman'),
      schedulable: schedulableOn(master, 'gearman'),
      portOnMaster: portOn(master),
      freshTarget: gearman,
      async teardown() {
        await master.close();
        await gearmand.stop();
      },
    };
  } catch (error) {
    await sim?.close();
    await gearmand.stop();
    throw error;
  }
});
