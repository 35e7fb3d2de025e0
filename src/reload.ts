// What a config reload (SIGHUP) must redo, as a pure diff of the running and the new config.
// Providers are matched by ProviderRuntimes.apply; this covers targets and the CI connections.
// State that does not come from the config (quota estimates, launch backoff, leak suspects,
// event counters) is never part of the plan: it survives every reload.
import type { Config } from './config.js';

export interface ReloadPlan {
  /** Targets whose config changed or that are new: (re)created. */
  targetsToCreate: string[];
  /** Targets no longer configured, or replaced: closed. */
  targetsToClose: string[];
  /** Gearman servers or ZeroMQ publishers changed: demand source and event listener restart. */
  ciChanged: boolean;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export function planReload(prev: Config, next: Config): ReloadPlan {
  const old = new Map(prev.targets.map((t) => [t.name, t]));
  // A Gearman target talks to the gearman servers: it is replaced when they change.
  const gearmanChanged = !same(prev['gearman-servers'], next['gearman-servers']);
  const targetsToCreate = next.targets.filter((t) => !old.has(t.name) || !same(old.get(t.name), t) || (gearmanChanged && t.gearman)).map((t) => t.name);
  const stillConfigured = new Set(next.targets.map((t) => t.name));
  return {
    targetsToCreate,
    targetsToClose: prev.targets.map((t) => t.name).filter((n) => targetsToCreate.includes(n) || !stillConfigured.has(n)),
    ciChanged: gearmanChanged || !same(prev['zmq-publishers'], next['zmq-publishers']),
  };
}
