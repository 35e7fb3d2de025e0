import { hostname as osHostname } from 'node:os';
import { expect, it } from 'vitest';
import { createLogger, nodeLogger } from '../../src/log.js';
import { duplicateKeys } from '../helpers/json-keys.js';

function capture() {
  const lines: string[] = [];
  return { lines, log: createLogger({ level: 'info', destination: { write: (s: string) => void lines.push(s) } }) };
}

it('a node logger on a logger that already carries provider writes each key once', () => {
  const { lines, log } = capture();
  nodeLogger(log.child({ provider: 'cloud-a', component: 'cleanup' }), { id: 7, provider: 'cloud-a', label: 'small' }).info({ why: 'x' }, 'm');
  nodeLogger(log, { id: 8, provider: 'cloud-b', label: 'large' }).child({ job: 'unit' }).info('n');
  expect(lines.map(duplicateKeys)).toEqual([[], []]);
  expect(JSON.parse(lines[0])).toMatchObject({ provider: 'cloud-a', component: 'cleanup', node: 7, label: 'small' });
  expect(JSON.parse(lines[1])).toMatchObject({ provider: 'cloud-b', node: 8, label: 'large', job: 'unit' });
});

it("a node's hostname goes out as node_hostname; hostname stays the machine's", () => {
  const { lines, log } = capture();
  log.info({ hostname: 'small-cloud-a-7' }, 'node -> building');
  expect(duplicateKeys(lines[0])).toEqual([]);
  expect(JSON.parse(lines[0])).toMatchObject({ hostname: osHostname(), node_hostname: 'small-cloud-a-7' });
});

it('duplicateKeys finds a repeated key at any depth', () => {
  expect(duplicateKeys('{"a":1,"b":{"c":[{"d":1,"d":2}],"e":"x\\"y"},"a":2}')).toEqual(['b.c.d', 'a']);
  expect(duplicateKeys('{"a":[1,2,{}],"b":null}')).toEqual([]);
});
