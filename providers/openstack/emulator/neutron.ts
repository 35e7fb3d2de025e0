// Neutron v2.0, only what a Nova user needs: list and show networks, so that a client can turn
// a network name into the id it puts in a server create.
import { isoSeconds, type Reply, type Req } from './http.js';
import type { Route } from './router.js';

export interface EmulatorNetwork {
  id: string;
  name: string;
  /** The family of its one subnet: 6 makes servers on it IPv6-only. */
  ipVersion: 4 | 6;
}

export interface NeutronCtx {
  req: Req;
  params: string[];
  projectId: string;
}

export type NeutronHandler = (ctx: NeutronCtx) => Reply;

export function neutronError(status: number, type: string, message: string): Reply {
  return { status, body: { NeutronError: { type, message, detail: '' } } };
}

export class Neutron {
  readonly routes: Route<NeutronHandler>[] = [
    { method: 'GET', template: '/', handler: () => this.versions() },
    { method: 'GET', template: '/v2.0/networks', handler: (c) => this.list(c) },
    { method: 'GET', template: '/v2.0/networks/{id}', handler: (c) => this.show(c) },
  ];

  constructor(
    private readonly networks: readonly EmulatorNetwork[],
    private readonly url: () => string,
    private readonly created: number,
    private readonly zones: readonly string[],
  ) {}

  private versions(): Reply {
    return {
      status: 200,
      body: { versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ rel: 'self', href: `${this.url()}/v2.0/` }] }] },
    };
  }

  private list(ctx: NeutronCtx): Reply {
    const q = ctx.req.url.searchParams;
    const names = q.getAll('name');
    const ids = q.getAll('id');
    const items = this.networks.filter((n) => (names.length === 0 || names.includes(n.name)) && (ids.length === 0 || ids.includes(n.id)));
    return { status: 200, body: { networks: items.map((n) => this.view(n, ctx.projectId)) } };
  }

  private show(ctx: NeutronCtx): Reply {
    const n = this.networks.find((x) => x.id === ctx.params[0]);
    if (!n) return neutronError(404, 'NetworkNotFound', `Network ${ctx.params[0]} could not be found.`);
    return { status: 200, body: { network: this.view(n, ctx.projectId) } };
  }

  private view(n: EmulatorNetwork, projectId: string): unknown {
    return {
      id: n.id,
      name: n.name,
      tenant_id: projectId,
      project_id: projectId,
      admin_state_up: true,
      status: 'ACTIVE',
      subnets: [],
      shared: false,
      mtu: 1500,
      'router:external': false,
      port_security_enabled: true,
      availability_zone_hints: [],
      availability_zones: [...this.zones],
      ipv4_address_scope: null,
      ipv6_address_scope: null,
      description: '',
      tags: [],
      created_at: isoSeconds(this.created),
      updated_at: isoSeconds(this.created),
      revision_number: 1,
    };
  }
}
