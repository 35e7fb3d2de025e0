import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { DEPLOYMENT_ID_PATTERN, generateDeploymentId, knownDeploymentId, resolveDeploymentId } from '../../src/deployment-id.js';
import { ConfigError } from '../../src/errors.js';
import { SqliteStore } from '../../src/store/sqlite.js';

let store: SqliteStore;
beforeEach(() => {
  store = SqliteStore.open(':memory:');
});
afterEach(async () => {
  await store.close();
});

describe('deployment id', () => {
  it('the daemon generates one once and keeps it; the CLI never generates one', async () => {
    expect(await knownDeploymentId(store, undefined)).toBeUndefined();
    expect(await store.getMeta('deployment_id')).toBeUndefined();
    const first = await resolveDeploymentId(store, undefined);
    expect(first).toMatch(DEPLOYMENT_ID_PATTERN);
    expect(await resolveDeploymentId(store, undefined)).toBe(first);
    expect(await knownDeploymentId(store, undefined)).toBe(first);
  });

  it("the config's id is used and stored, so a later start without the key keeps it", async () => {
    expect(await resolveDeploymentId(store, 'ci-prod')).toBe('ci-prod');
    expect(await resolveDeploymentId(store, undefined)).toBe('ci-prod');
    expect(await knownDeploymentId(store, 'ci-prod')).toBe('ci-prod');
  });

  it('a config id that differs from the stored one is refused by daemon and CLI', async () => {
    await resolveDeploymentId(store, 'ci-prod');
    await expect(resolveDeploymentId(store, 'ci-test')).rejects.toBeInstanceOf(ConfigError);
    await expect(knownDeploymentId(store, 'ci-test')).rejects.toThrow(/belongs to deployment "ci-prod"/);
  });

  it('generated ids are short and DNS-safe', () => {
    for (let i = 0; i < 50; i++) expect(generateDeploymentId()).toMatch(/^[0-9a-f]{8}$/);
  });

  it('config deployment-id must be short and DNS-safe', () => {
    const yaml = (id: string) =>
      [
        `deployment-id: ${JSON.stringify(id)}`,
        'labels: [{ name: small, image: ubuntu, providers: [{ name: cloud-a }] }]',
        'providers:',
        '  - { name: cloud-a, max-servers: 1, auth: { auth-url: "http://127.0.0.1:1/v3", username: u, password: p, project-name: x }, images: [{ name: ubuntu, base-image: jammy }] }',
      ].join('\n');
    expect(parseConfig(yaml('ci-prod'), 't.yaml')['deployment-id']).toBe('ci-prod');
    for (const bad of ['CI', 'ci_prod', '-ci', 'ci-', 'a'.repeat(17), '']) {
      expect(() => parseConfig(yaml(bad), 't.yaml'), bad).toThrow(/deployment-id: expected 1 to 16 lowercase letters/);
    }
  });
});
