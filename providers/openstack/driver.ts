// The OpenStack ProviderDriver: Keystone, Nova, Glance (and Neutron for network names) behind
// the one Provider interface. Thin on purpose: no retries or rate limiting here.
import { systemClock, type Clock } from '../../src/clock.js';
import type { ProviderConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { silentLogger, type Logger } from '../../src/log.js';
import type { AddressPolicy } from '../address.js';
import type { CloudImage, CloudServer, CreateServerRequest, Flavor, NetworkChoice, ProviderDriver, Quota } from '../provider.js';
import { GlanceClient, toCloudImage } from './glance.js';
import { HttpClient } from './http.js';
import { KeystoneSession } from './keystone.js';
import { NeutronClient } from './neutron.js';
import { NovaClient, toCloudServer } from './nova.js';

export interface OpenStackDriverOptions {
  clock?: Clock;
  log?: Logger;
  /** Whole-request timeout. Default 30 s. */
  timeoutMs?: number;
  /** Ask for pages of this many items (servers, flavors, images); default: the cloud's own page size. */
  pageSize?: number;
}

export function createOpenStackDriver(cfg: ProviderConfig, opts: OpenStackDriverOptions = {}): ProviderDriver {
  const auth = cfg.auth;
  if (!auth) throw new ConfigError([`providers.${cfg.name}.auth: required for the openstack driver`]);
  const clock = opts.clock ?? systemClock;
  const log = (opts.log ?? silentLogger).child({ provider: cfg.name, driver: 'openstack' });
  const http = new HttpClient({ timeoutMs: opts.timeoutMs, now: () => clock.now() });
  const session = new KeystoneSession({
    authUrl: auth['auth-url'],
    username: auth.username,
    password: auth.password,
    userDomainName: auth['user-domain-name'],
    projectName: auth['project-name'],
    projectDomainName: auth['project-domain-name'],
    region: cfg['region-name'],
    interface: cfg.interface,
    http,
    clock,
    log,
  });
  const nova = new NovaClient(session, { pageSize: opts.pageSize });
  const glance = new GlanceClient(session, { pageSize: opts.pageSize });
  const neutron = new NeutronClient(session);

  const policy: AddressPolicy = { ipv6Preferred: cfg['ipv6-preferred'], usePrivate: cfg['use-private-address'] };

  async function networkIds(nets: NetworkChoice): Promise<string[] | 'auto' | 'none'> {
    if (nets === 'auto' || nets === 'none') return nets;
    if (nets.length === 0) return 'auto';
    return Promise.all(
      nets.map((n) => {
        if (n.id) return n.id;
        if (n.name) return neutron.networkId(n.name);
        throw new ConfigError([`providers.${cfg.name}.networks: each network needs an id or a name`]);
      }),
    );
  }

  return {
    name: cfg.name,

    async createServer(req: CreateServerRequest): Promise<CloudServer> {
      const id = await nova.createServer({
        name: req.name,
        imageRef: req.imageId,
        flavorRef: req.flavorId,
        metadata: req.metadata,
        availabilityZone: req.az,
        keyName: req.keyName ?? cfg.keypair,
        networkIds: await networkIds(req.networks ?? cfg.networks),
        configDrive: req.configDrive ?? (cfg['config-drive'] || undefined),
      });
      log.debug({ server: id, name: req.name }, 'server created');
      // Nova's 202 carries only the id; the shared list poll fills in the rest, so no extra GET.
      return {
        id,
        name: req.name,
        status: 'building',
        rawStatus: 'BUILD',
        ip: null,
        addresses: [],
        az: req.az ?? null,
        metadata: { ...req.metadata },
        fault: null,
        faultCode: null,
        created: clock.now(),
      };
    },

    async listServers(): Promise<CloudServer[]> {
      return (await nova.listServers()).map((s) => toCloudServer(s, policy));
    },

    async getServer(id: string): Promise<CloudServer> {
      return toCloudServer(await nova.getServer(id), policy);
    },

    async deleteServer(id: string): Promise<void> {
      await nova.deleteServer(id);
    },

    listFlavors(): Promise<Flavor[]> {
      return nova.listFlavors();
    },

    getQuota(): Promise<Quota> {
      return nova.limits();
    },

    async listImages(): Promise<CloudImage[]> {
      return (await glance.listImages()).map(toCloudImage);
    },

    createImage(serverId: string, name: string, metadata: Record<string, string>): Promise<string> {
      return nova.createImage(serverId, name, metadata);
    },

    async deleteImage(id: string): Promise<void> {
      await glance.deleteImage(id);
    },

    close(): Promise<void> {
      return http.close();
    },

    async connect() {
      const token = await session.token();
      const who = `token ${token.slice(0, 8)}... for ${auth.username}@${auth['project-name']}`;
      const found: string[] = [];
      for (const type of ['compute', 'image', 'network']) {
        found.push(`${type} ${await session.endpoint(type).catch(() => '(none)')}`);
      }
      if (found[0].endsWith('(none)') || found[1].endsWith('(none)')) throw new ConfigError([`providers.${cfg.name}: the catalog lacks ${found.filter((f) => f.endsWith('(none)')).join(', ')}`]);
      return { auth: who, catalog: found.join(', ') };
    },
  };
}
