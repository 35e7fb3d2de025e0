// docs/config-reference.md is generated from the zod schema (scripts/gen-config-reference.ts):
// this fails when the schema changed and the file was not regenerated.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configRows, REFERENCE_PATH, renderConfigReference } from '../../scripts/gen-config-reference.js';

describe('config reference', () => {
  it('docs/config-reference.md is what the generator writes (else: npx tsx scripts/gen-config-reference.ts)', () => {
    expect(readFileSync(REFERENCE_PATH, 'utf8') === renderConfigReference(), 'docs/config-reference.md is stale: run npx tsx scripts/gen-config-reference.ts').toBe(true);
  });

  it('has every key with a type, its default, and a description from the schema source', () => {
    const rows = configRows();
    const byPath = new Map(rows.map((r) => [r.path, r]));
    expect(byPath.get('demand-interval')).toMatchObject({ type: 'duration', default: '`5s`' });
    expect(byPath.get('providers[].max-servers')).toMatchObject({ type: 'integer (≥ 0)', default: '**required**' });
    expect(byPath.get('statsd.port')).toMatchObject({ type: 'integer (≥ 1, ≤ 65535)', default: '`8125`' });
    expect(byPath.get('providers[].driver')?.type).toBe('`openstack` \\| `ec2`');
    // A doc comment in src/config.ts is the description.
    expect(byPath.get('surplus-grace')?.description).toMatch(/above min-ready plus demand/);
    expect(rows.filter((r) => !r.type)).toEqual([]);
    expect(rows.length).toBeGreaterThan(80);
  });
});
