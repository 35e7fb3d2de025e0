// The README's 0.x key table is generated from the loader's own table: this fails when it is stale.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { V0_KEYS, withV0Table } from '../../src/config/v0/keys.js';

it('README.md has the current 0.x key table (node --import tsx scripts/gen-v0-table.ts writes it)', () => {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  expect(withV0Table(readme)).toBe(readme);
  for (const k of V0_KEYS) expect(readme).toContain(`| \`${k.key.replace(/\|/g, '\\|')}\` |`);
});
