// The parts of the CI loop tests on real parts: the simulated master on a real gearmand, the config
// lines that point the daemon at them, and the daemon started with no reconcile grace.
import { createServer } from 'node:net';
import type { ManualClock } from '../../src/clock.js';
import { Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log.js';
import { startSimMaster, type SimMaster, type SimMasterOptions } from '../../src/sim/master.js';
import type { Gearmand } from './gearmand.js';
import type { PoolHarness } from './pool-harness.js';
import { waitFor } from './wait.js';

/**
 * The simulated master on gearmand `g` (user nodepool, token "token"): job unit on label small,
 * builds of 1000 ms by `buildClock`, so they end only when the test advances it. `over` replaces options.
 */
export function startClockedSim(g: Gearmand, buildClock: ManualClock, over: Partial<SimMasterOptions> = {}): Promise<SimMaster> {
  return startSimMaster({ gearman: [{ host: g.host, port: g.port }], user: 'nodepool', apiToken: 'token', buildDurationMs: 1000, clock: buildClock, jobs: [{ name: 'unit', labels: ['small'] }], log: silentLogger, ...over });
}

/**
 * Top-level config lines for the CI loop: gearmand `g`, the ZeroMQ publisher (the master's, unless
 * `zmqUrl`), demand every 0.3 s, then `extra`, then the master as Jenkins target `jenkins`.
 */
export function ciTop(g: Gearmand, s: SimMaster, extra: string[] = [], zmqUrl = s.zmqUrl): string[] {
  return [
    `gearman-servers: [{ host: ${g.host}, port: ${g.port} }]`,
    `zmq-publishers: ["${zmqUrl}"]`,
    'demand-interval: 0.3s',
    ...extra,
    'targets:',
    `  - { name: jenkins, jenkins: { url: "${s.jenkinsUrl}", user: nodepool, apikey: token, credentials-id: ssh-key } }`,
  ];
}

/** The harness's daemon with no reconcile grace: a pass may judge an in-use node at once. */
export async function startDaemonNoGrace(h: PoolHarness): Promise<Daemon> {
  h.daemon = await Daemon.start({ configPath: h.configPath, dbPath: h.dbPath, env: h.env, log: silentLogger, storeWatchMs: 100, reconcileGraceMs: 0 });
  return h.daemon;
}

/** A TCP port nothing listens on (taken and released): a subscription to it stays empty. */
export async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Publishes onCompleted frames for a node nobody owns until the daemon's listener has `handled` one. */
export async function listenerLive(s: SimMaster, handled: () => number): Promise<void> {
  let n = 0;
  await waitFor(async () => (await s.publish(`onCompleted ${JSON.stringify({ name: 'probe', url: 'job/probe/', build: { number: ++n, node_name: 'nobody' } })}`), handled() > 0), { what: 'the listener live', intervalMs: 50 });
}
