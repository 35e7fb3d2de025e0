// The deployment id: which installation created a server. Config key `deployment-id`, else
// generated once and kept in the store (meta key `deployment_id`), so a restart keeps it and two
// installations sharing a cloud project never take each other's servers for their own.
import { randomBytes } from 'node:crypto';
import { ConfigError } from './errors.js';
import type { Store } from './store/store.js';

export const DEPLOYMENT_META_KEY = 'deployment_id';

/** Short and DNS-safe (it goes into hostnames): 1 to 16 lowercase letters, digits or "-", no "-" at either end. */
export const DEPLOYMENT_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,14}[a-z0-9])?$/;

/** Eight random hex digits: collisions between a few installations are out of the question. */
export function generateDeploymentId(): string {
  return randomBytes(4).toString('hex');
}

function mismatch(configured: string, stored: string): ConfigError {
  return new ConfigError([
    `deployment-id: the config says "${configured}" but this database belongs to deployment "${stored}"; ` +
      `its servers would look foreign and leak. Set deployment-id: ${stored} (or remove the key), or use a new database`,
  ]);
}

/**
 * The daemon's id: the config's, else the stored one, else a new one; whichever is used is stored.
 * A config id different from the stored one is refused (ConfigError).
 */
export async function resolveDeploymentId(store: Store, configured: string | undefined): Promise<string> {
  const stored = await store.setMetaIfAbsent(DEPLOYMENT_META_KEY, configured ?? generateDeploymentId());
  if (configured !== undefined && stored !== configured) throw mismatch(configured, stored);
  return stored;
}

/**
 * The CLI's view: the config's id, else the stored one, else undefined (no daemon ever ran on this
 * database); it never generates or stores one. A config id different from the stored one is refused.
 */
export async function knownDeploymentId(store: Store, configured: string | undefined): Promise<string | undefined> {
  const stored = await store.getMeta(DEPLOYMENT_META_KEY);
  if (configured !== undefined && stored !== undefined && stored !== configured) throw mismatch(configured, stored);
  return configured ?? stored;
}
