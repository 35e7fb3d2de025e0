// Builds a Target from its config. A target with neither `jenkins` nor `gearman` registers
// nothing: its nodes are ready as soon as SSH answers.
import type { Clock } from '../clock.js';
import type { Config, TargetConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Target } from './target.js';
import { JenkinsTarget } from './jenkins.js';
import { GearmanTarget } from './gearman.js';

export interface TargetDeps {
  gearmanServers: Config['gearman-servers'];
  log: Logger;
  clock: Clock;
}

const targetKinds = {
  jenkins: (t: TargetConfig, deps: TargetDeps) => {
    const j = t.jenkins!;
    return new JenkinsTarget({ name: t.name, url: j.url, user: j.user, apikey: j.apikey, credentialsId: j['credentials-id'], remoteFs: j['remote-fs'], log: deps.log });
  },
  gearman: (t: TargetConfig, deps: TargetDeps) => new GearmanTarget({ name: t.name, servers: deps.gearmanServers, log: deps.log }),
} satisfies Record<string, (t: TargetConfig, deps: TargetDeps) => Target>;

class NoTarget implements Target {
  constructor(readonly name: string) {}
  async register() {
    return {};
  }
  async unregister() {}
  async exists() {
    return true;
  }
  async close() {}
}

export function createTarget(t: TargetConfig, deps: TargetDeps): Target {
  const kind = (Object.keys(targetKinds) as (keyof typeof targetKinds)[]).find((k) => t[k] !== undefined);
  return kind ? targetKinds[kind](t, deps) : new NoTarget(t.name);
}
