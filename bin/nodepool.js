#!/usr/bin/env node
// The `nodepool` command. Runs the JavaScript that `npm run build` emits into dist/ (`npm ci`
// builds it through the `prepare` script), so a start does not compile TypeScript. Without
// dist/ (or with NODEPOOL_FROM_SOURCE=1, as the tests spawn it) it runs src/ through tsx.
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const built = new URL('../dist/src/cli/main.js', import.meta.url);
let main;
if (existsSync(built) && !process.env.NODEPOOL_FROM_SOURCE) {
  ({ main } = await import(built.href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
