// CLI entry for the demo: a simulated master and, optionally, a job load.
//   node --import tsx src/sim/main.ts --gearman 127.0.0.1:4730 --job unit:trusty \
//     --load unit:trusty --load-rate 2 --load-count 20
import { Command } from 'commander';
import { createLogger } from '../log.js';
import { startSimMaster } from './master.js';
import { startLoad, type Load, type LoadJob } from './load.js';
import type { SimJob } from './sim-node.js';

const collect = (v: string, acc: string[]) => [...acc, v];

function hostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return i < 0 ? { host: s, port: 4730 } : { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
}

/** "JOB:LABEL[,LABEL...]" */
function simJob(s: string): SimJob {
  const [name, labels = ''] = s.split(':');
  return { name, labels: labels.split(',').filter(Boolean) };
}

function loadJob(s: string): LoadJob {
  const [name, label = ''] = s.split(':');
  return { name, label };
}

async function main(argv: string[]): Promise<void> {
  const cmd = new Command('nodepool-sim')
    .description('A simulated Jenkins master (REST + Gearman agents + ZMQ events) and a Gearman job load')
    .option('--gearman <host:port>', 'gearman server (repeatable)', collect, [] as string[])
    .option('--user <user>', 'Jenkins user', 'nodepool')
    .option('--token <token>', 'Jenkins API token', 'secret')
    .option('--zmq-port <port>', 'ZMQ publisher port (0 = free port)', '8888')
    .option('--duration-ms <ms>', 'build duration', '5000')
    .option('--fail-every <n>', 'every n-th build of a job fails (0 = none)', '0')
    .option('--job <job:label,...>', 'a job and the labels it runs on (repeatable)', collect, [] as string[])
    .option('--target-name <name>', 'Gearman target name served (node_assign:<name>)', 'sim-master')
    .option('--load <job:label>', 'submit this job (repeatable, round-robin)', collect, [] as string[])
    .option('--load-rate <perSecond>', 'submissions per second', '1')
    .option('--load-count <n>', 'how many jobs to submit', '10')
    .option('--log-level <level>', 'log level', 'info')
    .parse(argv);
  const o = cmd.opts<{
    gearman: string[]; user: string; token: string; zmqPort: string; durationMs: string; failEvery: string;
    job: string[]; targetName: string; load: string[]; loadRate: string; loadCount: string; logLevel: string;
  }>();
  const log = createLogger({ level: o.logLevel });
  const gearman = (o.gearman.length ? o.gearman : ['127.0.0.1:4730']).map(hostPort);
  const failEvery = Number(o.failEvery);
  const jobs = o.job.map(simJob);
  for (const l of o.load.map(loadJob)) {
    if (!jobs.some((j) => j.name === l.name)) jobs.push({ name: l.name, labels: [l.label] });
  }
  const sim = await startSimMaster({
    gearman,
    user: o.user,
    apiToken: o.token,
    zmqPort: Number(o.zmqPort),
    buildDurationMs: Number(o.durationMs),
    buildResult: (_job, n) => (failEvery > 0 && n % failEvery === 0 ? 'FAILURE' : 'SUCCESS'),
    jobs,
    gearmanTargetName: o.targetName,
    log,
  });
  log.info({ jenkinsUrl: sim.jenkinsUrl, zmqUrl: sim.zmqUrl, jobs }, 'sim master ready');

  let load: Load | null = null;
  if (o.load.length > 0) {
    load = startLoad({ gearman, jobs: o.load.map(loadJob), ratePerSecond: Number(o.loadRate), count: Number(o.loadCount), log });
    void load.done.then(() => log.info({ submitted: load?.submitted(), completed: load?.completed() }, 'load finished'));
  }

  const stop = async () => {
    await load?.stop();
    await sim.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main(process.argv).catch((error) => {
  console.error(error);
  process.exit(1);
});
