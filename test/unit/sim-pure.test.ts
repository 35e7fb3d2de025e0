// Pure parts of the simulator and the Jenkins target: event frames, function names, load plans,
// and the doCreateItem form.
import { describe, expect, it } from 'vitest';
import { eventFrame } from '../../src/sim/event-frame.js';
import { functionsFor } from '../../src/sim/sim-node.js';
import { planSubmissions } from '../../src/sim/load.js';
import { nodeFormJson } from '../../src/targets/jenkins.js';

describe('eventFrame', () => {
  const build = { job: 'gate-nova', number: 7, rootUrl: 'http://ci.example/', nodeName: 'np-1', parameters: { ZUUL_UUID: 'u' } };

  it('is one frame "<topic> <json>" with the plugin fields', () => {
    const f = eventFrame('onStarted', build);
    expect(f.startsWith('onStarted {')).toBe(true);
    const body = JSON.parse(f.slice('onStarted '.length));
    expect(body).toEqual({
      name: 'gate-nova',
      url: 'job/gate-nova/',
      build: { full_url: 'http://ci.example/job/gate-nova/7/', number: 7, phase: 'STARTED', url: 'job/gate-nova/7/', parameters: { ZUUL_UUID: 'u' }, node_name: 'np-1' },
    });
  });

  it('omits status until there is a result, and names the finalized phase as the plugin does', () => {
    expect(JSON.parse(eventFrame('onStarted', { ...build, result: 'SUCCESS' }).slice(10)).build.status).toBeUndefined();
    const done = JSON.parse(eventFrame('onCompleted', { ...build, result: 'FAILURE' }).slice(12)).build;
    expect(done).toMatchObject({ phase: 'COMPLETED', status: 'FAILURE' });
    const fin = JSON.parse(eventFrame('onFinalized', { ...build, result: 'SUCCESS' }).slice(12)).build;
    expect(fin).toMatchObject({ phase: 'FINISHED', status: 'SUCCESS' });
  });

  it('leaves out empty parameters', () => {
    expect(JSON.parse(eventFrame('onStarted', { ...build, parameters: {} }).slice(10)).build).not.toHaveProperty('parameters');
  });
});

describe('functionsFor', () => {
  it('registers build:JOB and build:JOB:LABEL only for jobs sharing a label', () => {
    const fns = functionsFor(
      [
        { name: 'a', labels: ['trusty', 'precise'] },
        { name: 'b', labels: ['centos'] },
      ],
      ['precise', 'trusty'],
    );
    expect([...fns.keys()].sort()).toEqual(['build:a', 'build:a:precise', 'build:a:trusty']);
    expect(fns.get('build:a:trusty')).toBe('a');
  });
});

describe('planSubmissions', () => {
  it('spaces count jobs at the rate, round-robin over the jobs', () => {
    expect(planSubmissions({ jobs: [{ name: 'x', label: 'l1' }, { name: 'y', label: 'l2' }], ratePerSecond: 4, count: 3 })).toEqual([
      { at: 0, job: 'x', label: 'l1' },
      { at: 250, job: 'y', label: 'l2' },
      { at: 500, job: 'x', label: 'l1' },
    ]);
  });

  it('follows a trace in time order', () => {
    const plan = planSubmissions({ jobs: [], trace: [{ at: 900, job: 'b', label: 'l' }, { at: 100, job: 'a', label: 'l' }] });
    expect(plan.map((p) => p.job)).toEqual(['a', 'b']);
  });

  it('refuses a non-positive rate', () => {
    expect(() => planSubmissions({ jobs: [{ name: 'x', label: 'l' }], ratePerSecond: 0 })).toThrow(RangeError);
  });
});

describe('nodeFormJson', () => {
  it('describes a one-executor exclusive DumbSlave with the SSH launcher', () => {
    const json = nodeFormJson({ name: 'np-9', host: '192.0.2.9', port: 2222, description: 'd', labels: ['trusty', 'big'] }, 'cred-1', '/home/jenkins');
    expect(json).toMatchObject({
      name: 'np-9',
      nodeDescription: 'd',
      numExecutors: 1,
      remoteFS: '/home/jenkins',
      labelString: 'trusty big',
      mode: 'EXCLUSIVE',
      type: 'hudson.slaves.DumbSlave',
      retentionStrategy: { 'stapler-class': 'hudson.slaves.RetentionStrategy$Always' },
      nodeProperties: { 'stapler-class-bag': 'true' },
      launcher: { 'stapler-class': 'hudson.plugins.sshslaves.SSHLauncher', host: '192.0.2.9', port: '2222', credentialsId: 'cred-1' },
    });
  });
});
