#!/usr/bin/env node
// Entry point of `npm start`: runs the TypeScript demo through tsx.
import { register } from 'tsx/esm/api';

register();
const { runDemo } = await import('../src/demo.ts');
await runDemo();
