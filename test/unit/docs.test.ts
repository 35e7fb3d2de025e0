// The reference pages name what exists: every CLI command in docs/cli.md, every API path the
// server routes in docs/api.md.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { systemClock } from '../../src/clock.js';

const sink = { write: () => true };

describe('reference docs', () => {
  it('docs/cli.md has every command of `nodepool --help`', () => {
    const { program } = buildProgram({ out: sink, err: sink, env: {}, clock: systemClock });
    const doc = readFileSync('docs/cli.md', 'utf8');
    expect(program.commands.map((c) => c.name()).filter((name) => !new RegExp(`\`${name}[ \`]`).test(doc))).toEqual([]);
  });

  it('docs/api.md has every path of src/web/server.ts', () => {
    const src = readFileSync('src/web/server.ts', 'utf8');
    const doc = readFileSync('docs/api.md', 'utf8');
    // Route patterns such as /^\/api\/nodes\/([^/]+)\/hold$/ -> /api/nodes/ID/hold
    const paths = [...src.matchAll(/path: \/\^(.*?)\$\//g)].map((m) => m[1].replace(/\\\//g, '/').replace('([^/]+)/([^/]+)', 'PROVIDER/IMAGE').replace('([^/]+)', 'ID'));
    expect(paths.length).toBeGreaterThan(10);
    expect(paths.filter((p) => !doc.includes(`${p}\``) && !doc.includes(`${p} `))).toEqual([]);
  });
});
