import { describe, expect, it } from 'vitest';
import {
  demandByLabel,
  parseBuildFunction,
  parseGearmanStatus,
  sumStatusRows,
  type GearmanStatusRow,
} from '../../src/pool/demand.js';

const row = (fn: string, total: number, running: number, workers: number): GearmanStatusRow => ({
  function: fn,
  total,
  running,
  workers,
});

describe('parseGearmanStatus', () => {
  const cases: {
    name: string;
    text: string;
    rows: GearmanStatusRow[];
    errors: { line: number; reason: RegExp }[];
    complete: boolean;
  }[] = [
    {
      name: 'a plain answer',
      text: 'build:a:small\t3\t1\t2\nbuild:a\t5\t0\t0\n.\n',
      rows: [row('build:a:small', 3, 1, 2), row('build:a', 5, 0, 0)],
      errors: [],
      complete: true,
    },
    {
      name: 'an empty status (no functions)',
      text: '.\n',
      rows: [],
      errors: [],
      complete: true,
    },
    {
      name: 'CRLF line ends',
      text: 'build:a\t2\t1\t1\r\nnode_assign:jenkins\t0\t0\t3\r\n.\r\n',
      rows: [row('build:a', 2, 1, 1), row('node_assign:jenkins', 0, 0, 3)],
      errors: [],
      complete: true,
    },
    {
      name: 'malformed lines are reported and skipped, the good ones kept',
      text: [
        'build:a\t2\t1\t1',
        'build:b 2 1 1',
        'build:c\t2\tx\t1',
        'build:d\t2\t1\t1\textra',
        '\t1\t0\t0',
        'ERR unknown_command Unknown+server+command',
        'build:e\t-1\t0\t0',
        'build:f\t4\t0\t1',
        '.',
        '',
      ].join('\n'),
      rows: [row('build:a', 2, 1, 1), row('build:f', 4, 0, 1)],
      errors: [
        { line: 2, reason: /4 tab-separated fields, got 1/ },
        { line: 3, reason: /running is not a non-negative integer/ },
        { line: 4, reason: /got 5/ },
        { line: 5, reason: /empty function name/ },
        { line: 6, reason: /got 1/ },
        { line: 7, reason: /total is not a non-negative integer/ },
      ],
      complete: true,
    },
    {
      name: 'a truncated answer (no ".")',
      text: 'build:a\t2\t1\t1\nbuild:b\t1',
      rows: [row('build:a', 2, 1, 1)],
      errors: [
        { line: 2, reason: /got 2/ },
        { line: 2, reason: /without the terminating/ },
      ],
      complete: false,
    },
    {
      name: 'text after the terminator',
      text: 'build:a\t1\t0\t1\n.\nbuild:b\t1\t0\t1\n',
      rows: [row('build:a', 1, 0, 1)],
      errors: [{ line: 3, reason: /after the terminating/ }],
      complete: true,
    },
  ];

  it.each(cases)('$name', ({ text, rows, errors, complete }) => {
    const parsed = parseGearmanStatus(text);
    expect([...parsed]).toEqual(rows);
    expect(parsed.complete).toBe(complete);
    expect(parsed.errors.map((e) => e.line)).toEqual(errors.map((e) => e.line));
    parsed.errors.forEach((e, k) => expect(e.reason).toMatch(errors[k].reason));
  });

  it('keeps the offending text in the error', () => {
    const parsed = parseGearmanStatus('oops\n.\n');
    expect(parsed.errors).toEqual([{ line: 1, text: 'oops', reason: 'expected 4 tab-separated fields, got 1' }]);
  });
});

describe('parseBuildFunction', () => {
  it.each([
    ['build:a', { job: 'a', label: null }],
    ['build:a:small', { job: 'a', label: 'small' }],
    ['build:a:ubuntu:22.04', { job: 'a', label: 'ubuntu:22.04' }],
    ['build:', null],
    ['build:a:', null],
    ['node_assign:jenkins', null],
    ['stop:jenkins', null],
  ])('%s', (fn, expected) => {
    expect(parseBuildFunction(fn)).toEqual(expected);
  });
});

describe('sumStatusRows', () => {
  it('adds up a function present on several servers', () => {
    const summed = sumStatusRows([row('build:a', 2, 1, 1), row('build:b', 1, 0, 0), row('build:a', 3, 0, 2)]);
    expect(summed).toEqual([row('build:a', 5, 1, 3), row('build:b', 1, 0, 0)]);
  });
});

describe('demandByLabel', () => {
  const labels = ['small', 'large', 'gpu'];
  const cases: {
    name: string;
    rows: GearmanStatusRow[];
    demand: Record<string, number>;
    unassigned?: { job: string; waiting: number }[];
    foreign?: { job: string; label: string; waiting: number }[];
  }[] = [
    {
      name: 'no status: zero for every label',
      rows: [],
      demand: { small: 0, large: 0, gpu: 0 },
    },
    {
      name: 'build:JOB:LABEL credits LABEL with total - running',
      rows: [row('build:a:small', 5, 2, 2), row('build:b:small', 1, 0, 0), row('build:c:large', 4, 4, 4)],
      demand: { small: 4, large: 0, gpu: 0 },
    },
    {
      name: 'running above total never gives negative demand',
      rows: [row('build:a:small', 1, 3, 3)],
      demand: { small: 0, large: 0, gpu: 0 },
    },
    {
      name: 'a label we do not serve is foreign',
      rows: [row('build:a:static', 3, 1, 1), row('build:a:small', 1, 0, 0)],
      demand: { small: 1, large: 0, gpu: 0 },
      foreign: [{ job: 'a', label: 'static', waiting: 2 }],
    },
    {
      name: 'rows from two servers add up',
      rows: [row('build:a:small', 2, 1, 1), row('build:a:small', 3, 0, 0), row('build:b', 2, 0, 0), row('build:b', 1, 0, 0), row('build:b:gpu', 0, 0, 1)],
      demand: { small: 4, large: 0, gpu: 3 },
    },
    {
      name: 'bare build:JOB goes to the only label JOB is registered on',
      rows: [row('build:a', 3, 1, 0), row('build:a:large', 0, 0, 2)],
      demand: { small: 0, large: 2, gpu: 0 },
    },
    {
      name: 'bare build:JOB: label known even with no worker left',
      rows: [row('build:a', 2, 0, 0), row('build:a:gpu', 0, 0, 0)],
      demand: { small: 0, large: 0, gpu: 2 },
    },
    {
      name: 'bare build:JOB: the label with most workers for that job wins',
      rows: [row('build:a', 4, 0, 0), row('build:a:small', 0, 0, 1), row('build:a:large', 0, 0, 3), row('build:b:small', 0, 0, 9)],
      demand: { small: 0, large: 4, gpu: 0 },
    },
    {
      name: 'bare build:JOB: workers counted over all servers',
      rows: [
        row('build:a', 4, 0, 0),
        row('build:a:small', 0, 0, 2),
        row('build:a:large', 0, 0, 3),
        row('build:a:small', 0, 0, 2),
      ],
      demand: { small: 4, large: 0, gpu: 0 },
    },
    {
      name: 'bare build:JOB: tie on workers goes to the first label name',
      rows: [row('build:a', 1, 0, 0), row('build:a:small', 0, 0, 2), row('build:a:large', 0, 0, 2)],
      demand: { small: 0, large: 1, gpu: 0 },
    },
    {
      name: 'bare build:JOB: our labels beat a foreign one with more workers',
      rows: [row('build:a', 1, 0, 0), row('build:a:static', 0, 0, 9), row('build:a:small', 0, 0, 0)],
      demand: { small: 1, large: 0, gpu: 0 },
    },
    {
      name: 'bare build:JOB known only on a foreign label',
      rows: [row('build:a', 2, 0, 0), row('build:a:static', 0, 0, 1)],
      demand: { small: 0, large: 0, gpu: 0 },
      foreign: [{ job: 'a', label: 'static', waiting: 2 }],
    },
    {
      name: 'bare build:JOB with no label known is unassigned; bare with nothing waiting is not',
      rows: [row('build:z', 3, 1, 0), row('build:y', 2, 2, 1), row('build:a', 1, 0, 0), row('build:b:small', 0, 0, 1)],
      demand: { small: 0, large: 0, gpu: 0 },
      unassigned: [
        { job: 'a', waiting: 1 },
        { job: 'z', waiting: 2 },
      ],
    },
    {
      name: 'non-build functions are ignored',
      rows: [row('node_assign:jenkins', 7, 0, 1), row('stop:jenkins', 2, 0, 1), row('set_description:x', 1, 0, 1)],
      demand: { small: 0, large: 0, gpu: 0 },
    },
    {
      name: 'labelled and bare queues of the same job add up',
      rows: [row('build:a', 2, 0, 0), row('build:a:small', 3, 1, 1)],
      demand: { small: 4, large: 0, gpu: 0 },
    },
  ];

  it.each(cases)('$name', ({ rows, demand, unassigned = [], foreign = [] }) => {
    const out = demandByLabel(rows, labels);
    expect(out.demand).toEqual(demand);
    expect(out.unassigned).toEqual(unassigned);
    expect(out.foreign).toEqual(foreign);
  });

  it('takes a parsed status directly', () => {
    const parsed = parseGearmanStatus('build:a\t3\t0\t0\r\nbuild:a:small\t0\t0\t1\r\nbad line\r\n.\r\n');
    expect(parsed.errors).toHaveLength(1);
    expect(demandByLabel(parsed, ['small']).demand).toEqual({ small: 3 });
  });
});
