#!/usr/bin/env node
// Entry point of `npm start`: runs the built demo from dist/ (`npm ci` builds it through the
// `prepare` script); without dist/ (or with NODEPOOL_FROM_SOURCE=1) it runs src/ through tsx.
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const built = new URL('../dist/src/demo.js', import.meta.url);
let runDemo;
if (existsSync(built) && !process.env.NODEPOOL_FROM_SOURCE) {
  ({ runDemo } = await import(built.href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ runDemo } = await import('../src/demo.ts'));
}
await runDemo();
