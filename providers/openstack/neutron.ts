// Neutron (network API v2.0), only to turn network names from config into the ids Nova needs.
import { ConfigError } from '../../src/errors.js';
import type { KeystoneSession } from './keystone.js';

export class NeutronClient {
  private readonly ids = new Map<string, Promise<string>>();

  constructor(private readonly session: KeystoneSession) {}

  /** The id of the network named `name`; looked up once, then cached. */
  networkId(name: string): Promise<string> {
    let id = this.ids.get(name);
    if (!id) {
      id = this.lookup(name);
      // A failed lookup (network down, cloud error) is not cached.
      id.catch(() => this.ids.delete(name));
      this.ids.set(name, id);
    }
    return id;
  }

  private async lookup(name: string): Promise<string> {
    const base = (await this.session.endpoint('network')).replace(/\/v2\.0$/, '');
    const res = await this.session.request<{ networks?: { id: string; name?: string }[] }>(
      'network',
      `${base}/v2.0/networks?name=${encodeURIComponent(name)}`,
      { method: 'GET' },
    );
    const found = (res.body?.networks ?? []).filter((n) => n.name === name);
    if (found.length !== 1) {
      throw new ConfigError([`network "${name}": ${found.length === 0 ? 'no such network' : `${found.length} networks have this name; give its id`}`]);
    }
    return found[0].id;
  }
}
