// The Provider contract against a REAL OpenStack cloud, when one is named in the environment;
// skipped otherwise. Cases named "[emulator]" need emulator knobs and skip here.
//
//   NODEPOOL_TEST_OS_AUTH_URL        Keystone v3 URL, e.g. http://127.0.0.1:5000/v3   (enables the suite)
//   NODEPOOL_TEST_OS_USERNAME / _PASSWORD / _PROJECT_NAME     the pool user (member role is enough)
//   NODEPOOL_TEST_OS_USER_DOMAIN_NAME / _PROJECT_DOMAIN_NAME  default "Default"
//   NODEPOOL_TEST_OS_REGION_NAME     optional
//   NODEPOOL_TEST_OS_NETWORK         network name servers boot on (needed for the IPv4 case; else "auto")
//   NODEPOOL_TEST_OS_IMAGE           image name (default: the first active image)
//   NODEPOOL_TEST_OS_FLAVOR          flavor name (default: the smallest)
//   NODEPOOL_TEST_OS_ADMIN_USERNAME / _ADMIN_PASSWORD / _ADMIN_PROJECT_NAME
//                                    an admin, to set the project's instance quota (restored afterwards)
//
// Example (a local test cloud): NODEPOOL_TEST_OS_AUTH_URL=http://127.0.0.1:5000/v3 NODEPOOL_TEST_OS_USERNAME=pool
//   NODEPOOL_TEST_OS_PASSWORD=... NODEPOOL_TEST_OS_PROJECT_NAME=pool NODEPOOL_TEST_OS_NETWORK=pool-net
//   NODEPOOL_TEST_OS_ADMIN_USERNAME=admin NODEPOOL_TEST_OS_ADMIN_PASSWORD=... NODEPOOL_TEST_OS_ADMIN_PROJECT_NAME=admin
//   npx vitest run test/integration/openstack-real.test.ts
// It creates a handful of small servers named contract-<pid>-N and deletes them at the end.
import { describe, expect, it } from 'vitest';
import { configSchema, type ProviderConfig } from '../../src/config.js';
import { createOpenStackDriver } from '../../providers/openstack/driver.js';
import { chooseFlavor } from '../../providers/provider.js';
import { defineProviderContract } from '../contract/provider-contract.js';

const env = (k: string) => process.env[`NODEPOOL_TEST_OS_${k}`];
const enabled = Boolean(env('AUTH_URL') && env('USERNAME') && env('PASSWORD') && env('PROJECT_NAME') && env('ADMIN_USERNAME'));

function providerConfig(password = env('PASSWORD')!): ProviderConfig {
  const network = env('NETWORK');
  return configSchema.parse({
    labels: [{ name: 'small', image: 'base', providers: [{ name: 'real' }] }],
    providers: [
      {
        name: 'real',
        auth: {
          'auth-url': env('AUTH_URL'),
          username: env('USERNAME'),
          password,
          'project-name': env('PROJECT_NAME'),
          'user-domain-name': env('USER_DOMAIN_NAME') ?? 'Default',
          'project-domain-name': env('PROJECT_DOMAIN_NAME') ?? 'Default',
        },
        'region-name': env('REGION_NAME'),
        'max-servers': 10,
        networks: network ? [{ name: network }] : 'auto',
        images: [{ name: 'base', 'base-image': env('IMAGE') ?? 'any' }],
      },
    ],
  }).providers[0];
}

/** Keystone password auth (project scope): token, project id and catalog. */
async function login(user: string, password: string, project: string) {
  const res = await fetch(`${env('AUTH_URL')!.replace(/\/$/, '')}/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: user, password, domain: { name: env('USER_DOMAIN_NAME') ?? 'Default' } } } },
        scope: { project: { name: project, domain: { name: env('PROJECT_DOMAIN_NAME') ?? 'Default' } } },
      },
    }),
  });
  if (res.status !== 201) throw new Error(`Keystone login of ${user}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { token: { project: { id: string }; catalog: { type: string; endpoints: { interface: string; url: string }[] }[] } };
  const compute = body.token.catalog.find((c) => c.type === 'compute')!.endpoints.find((e) => e.interface === 'public')!.url;
  return { token: res.headers.get('x-subject-token')!, projectId: body.token.project.id, compute };
}

async function quotaApi(method: 'GET' | 'PUT', instances?: number): Promise<number> {
  const admin = await login(env('ADMIN_USERNAME')!, env('ADMIN_PASSWORD')!, env('ADMIN_PROJECT_NAME') ?? 'admin');
  const pool = await login(env('USERNAME')!, env('PASSWORD')!, env('PROJECT_NAME')!);
  const res = await fetch(`${admin.compute}/os-quota-sets/${pool.projectId}`, {
    method,
    headers: { 'x-auth-token': admin.token, 'content-type': 'application/json' },
    body: method === 'PUT' ? JSON.stringify({ quota_set: { instances } }) : undefined,
  });
  if (res.status !== 200) throw new Error(`os-quota-sets ${method}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { quota_set: { instances: number } }).quota_set.instances;
}

if (!enabled) {
  describe.skip('Provider contract: openstack (real cloud) — set NODEPOOL_TEST_OS_* to run', () => {
    it('needs a cloud', () => undefined);
  });
} else {
  defineProviderContract('openstack-real', async () => {
    const pageSize = 2;
    const driver = createOpenStackDriver(providerConfig(), { pageSize });
    const images = (await driver.listImages()).filter((i) => i.status === 'active');
    const image = env('IMAGE') ? images.find((i) => i.name === env('IMAGE')) : images[0];
    if (!image) throw new Error('no active image');
    const flavors = await driver.listFlavors();
    const flavor = env('FLAVOR') ? flavors.find((f) => f.name === env('FLAVOR')) : chooseFlavor(flavors, 0);
    if (!flavor) throw new Error('no flavor');
    const original = await quotaApi('GET');
    return {
      driver,
      imageId: image.id,
      flavorId: flavor.id,
      pageSize,
      setQuota: async (instances) => {
        // 1000 is the suite's "no limit": give back what the project had.
        await quotaApi('PUT', instances >= 1000 ? original : instances);
      },
      // A real cloud moves on its own: wait a little between polls.
      settle: () => new Promise((r) => setTimeout(r, 500)),
      maxRounds: 120,
      badCredentialsDriver: () => createOpenStackDriver(providerConfig('wrong-password')),
      async teardown() {
        await quotaApi('PUT', original);
      },
    };
  });

  describe('OpenStack driver against a real cloud: networks', () => {
    it('networks: auto where the project sees one network boots on it (or answers network-config)', async () => {
      const cfg = { ...providerConfig(), networks: 'auto' as const };
      const d = createOpenStackDriver(cfg);
      try {
        const image = (await d.listImages()).find((i) => i.status === 'active')!;
        const flavor = chooseFlavor(await d.listFlavors(), 0)!;
        let s;
        try {
          s = await d.createServer({ name: `contract-auto-${process.pid}`, imageId: image.id, flavorId: flavor.id, metadata: {} });
        } catch (err) {
          // Several networks, or none to auto-allocate: the error must be the final config one.
          expect((err as { code?: string }).code).toBe('network-config');
          console.log(`real cloud, networks auto: ${(err as Error).message}`);
          return;
        }
        try {
          let got = await d.getServer(s.id);
          for (let i = 0; i < 120 && got.status === 'building'; i++) {
            await new Promise((r) => setTimeout(r, 500));
            got = await d.getServer(s.id);
          }
          console.log(`real cloud, networks auto: ${got.rawStatus}, addresses ${JSON.stringify(got.addresses)}`);
          expect(got.status).toBe('active');
          expect(got.addresses?.length).toBeGreaterThan(0);
        } finally {
          await d.deleteServer(s.id);
        }
      } finally {
        await d.close();
      }
    }, 90_000);
  });
}
