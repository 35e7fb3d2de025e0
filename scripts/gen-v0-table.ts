// Writes the README's "Coming from Nodepool 0.x" key table from the 0.x loader's own table
// (src/config/v0/keys.ts). `--check` only says whether it is current (exit 1 when stale).
// Run: node --import tsx scripts/gen-v0-table.ts [--check]
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withV0Table } from '../src/config/v0/keys.js';

const readme = join(import.meta.dirname, '..', 'README.md');
const text = readFileSync(readme, 'utf8');
const next = withV0Table(text);
if (process.argv.includes('--check')) {
  if (next !== text) {
    console.error('README.md: the 0.x key table is stale; run node --import tsx scripts/gen-v0-table.ts');
    process.exit(1);
  }
} else if (next !== text) {
  writeFileSync(readme, next);
  console.log('README.md: 0.x key table updated');
}
