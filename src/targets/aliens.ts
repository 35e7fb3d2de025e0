// Agents on a master we manage that no node row knows (`alien-list --targets`): registered by
// someone else, or left behind by a lost unregister. Listed for the operator, never touched:
// nothing here unregisters, takes offline or deletes.
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { NodeRecord } from '../model.js';
import { createTarget } from './registry.js';
import type { TargetAgent } from './target.js';

export interface TargetAlien {
  target: string;
  name: string;
  /** busy (running a build), offline, or online. */
  state: 'busy' | 'offline' | 'online';
  labels: string[];
  description: string;
}

/** The agents no node row of this target names (a row knows its agent by its hostname). */
export function findTargetAliens(target: string, agents: readonly TargetAgent[], nodes: readonly Pick<NodeRecord, 'hostname' | 'target'>[]): TargetAlien[] {
  const known = new Set(nodes.filter((n) => n.target === target).map((n) => n.hostname));
  return agents
    .filter((a) => !known.has(a.name))
    .map((a) => ({ target, name: a.name, state: a.busy ? 'busy' : a.offline ? 'offline' : 'online', labels: [...a.labels], description: a.description }));
}

export interface TargetAliensReport {
  aliens: TargetAlien[];
  /** Targets that cannot list their agents (a Gearman manager has no such request): skipped. */
  skipped: string[];
  /** Targets whose listing failed, with why. */
  failed: { target: string; error: string }[];
}

/** Asks every configured target that can list its agents; one failing master does not hide the others. */
export async function listTargetAliens(config: Config, nodes: readonly NodeRecord[], deps: { log: Logger; clock: Clock }): Promise<TargetAliensReport> {
  const report: TargetAliensReport = { aliens: [], skipped: [], failed: [] };
  for (const cfg of config.targets) {
    // A target with neither registers nothing: it has no agents.
    if (!cfg.jenkins && !cfg.gearman) continue;
    const target = createTarget(cfg, { gearmanServers: config['gearman-servers'], log: deps.log, clock: deps.clock });
    try {
      if (!target.listAgents) {
        report.skipped.push(cfg.name);
        continue;
      }
      report.aliens.push(...findTargetAliens(cfg.name, await target.listAgents(), nodes));
    } catch (err) {
      report.failed.push({ target: cfg.name, error: err instanceof Error ? err.message : String(err) });
    } finally {
      await target.close();
    }
  }
  return report;
}
