import { describe, expect, it } from 'vitest';
import { parseFrame, type FrameResult } from '../../src/events/frame.js';

// As the plugin sends them (Gson: snake_case, null fields left out).
const started =
  'onStarted {"name":"unit","url":"job/unit/","build":{"full_url":"http://jenkins:8080/job/unit/12/","number":12,"phase":"STARTED","url":"job/unit/12/","node_name":"small-cloud-a-7","node_description":"nodepool node","host_name":"10.0.0.7","parameters":{"ZUUL_UUID":"abc","ZUUL_PIPELINE":"check"}}}';
const finalized =
  'onFinalized {"name":"unit","url":"job/unit/","build":{"full_url":"http://jenkins:8080/job/unit/12/","number":12,"phase":"FINISHED","status":"FAILURE","url":"job/unit/12/","node_name":"small-cloud-a-7"}}';

function problem(r: FrameResult): { reason: string; detail: string } {
  expect(r.ok).toBe(false);
  if (r.ok) throw new Error('unreachable');
  return { reason: r.reason, detail: r.detail };
}

describe('parseFrame', () => {
  it('reads onStarted with every field the plugin sends', () => {
    const r = parseFrame(started);
    expect(r).toEqual({
      ok: true,
      event: {
        topic: 'onStarted',
        name: 'unit',
        url: 'job/unit/',
        build: {
          full_url: 'http://jenkins:8080/job/unit/12/',
          number: 12,
          phase: 'STARTED',
          url: 'job/unit/12/',
          node_name: 'small-cloud-a-7',
          node_description: 'nodepool node',
          host_name: '10.0.0.7',
          parameters: { ZUUL_UUID: 'abc', ZUUL_PIPELINE: 'check' },
        },
      },
    });
  });

  it('reads onCompleted and onFinalized from a Buffer, status included, absent fields left out', () => {
    const r = parseFrame(Buffer.from(finalized));
    expect(r.ok && r.event.topic).toBe('onFinalized');
    expect(r.ok && r.event.build).toEqual({
      full_url: 'http://jenkins:8080/job/unit/12/',
      number: 12,
      phase: 'FINISHED',
      status: 'FAILURE',
      url: 'job/unit/12/',
      node_name: 'small-cloud-a-7',
    });
    const completed = parseFrame(finalized.replace('onFinalized', 'onCompleted').replace('FINISHED', 'COMPLETED'));
    expect(completed.ok && completed.event.topic).toBe('onCompleted');
  });

  it('keeps a JSON body that contains spaces and unicode intact', () => {
    const r = parseFrame('onStarted {"name":"déploiement nightly","build":{"number":1,"node_name":"n 1"}}');
    expect(r.ok && r.event.name).toBe('déploiement nightly');
    expect(r.ok && r.event.build.node_name).toBe('n 1');
  });

  it('ignores extra fields and wrongly typed optional ones', () => {
    const r = parseFrame('onStarted {"name":"j","extra":1,"build":{"number":3,"node_name":"n","phase":7,"parameters":[1],"status":null}}');
    expect(r).toEqual({ ok: true, event: { topic: 'onStarted', name: 'j', build: { number: 3, node_name: 'n', status: null } } });
  });

  it.each([
    ['empty', ''],
    ['no space', 'onStarted'],
    ['leading space', ' onStarted {}'],
    ['just json', '{"name":"x"} trailing'],
    ['random text', 'hello world'.replace('hello', 'héllo')],
    ['binary', Buffer.from([0xff, 0xfe, 0x20, 0x7b, 0x7d])],
  ])('garbage: %s', (_what, frame) => {
    const { reason } = problem(parseFrame(frame as string | Buffer));
    expect(reason).toBe('garbage');
  });

  it('unknown topic', () => {
    expect(problem(parseFrame('onDeleted {"name":"x","build":{"number":1,"node_name":"n"}}'))).toMatchObject({
      reason: 'unknown-topic',
      detail: expect.stringContaining('onDeleted'),
    });
    expect(problem(parseFrame('onstarted {}')).reason).toBe('unknown-topic'); // topics are case-sensitive
  });

  it.each([
    ['truncated', 'onStarted {"name":"x","build":{'],
    ['not json at all', 'onStarted hello'],
    ['an array', 'onStarted [1,2]'],
    ['a string', 'onStarted "x"'],
    ['null', 'onStarted null'],
    ['empty body', 'onStarted '],
  ])('not-json: %s', (_what, frame) => {
    expect(problem(parseFrame(frame)).reason).toBe('not-json');
  });

  it.each([
    ['no name', 'onStarted {"build":{"number":1,"node_name":"n"}}', 'name'],
    ['empty name', 'onStarted {"name":"","build":{"number":1,"node_name":"n"}}', 'name'],
    ['no build', 'onStarted {"name":"x"}', 'build'],
    ['build not an object', 'onStarted {"name":"x","build":"1"}', 'build'],
    ['no number', 'onStarted {"name":"x","build":{"node_name":"n"}}', 'build.number'],
    ['number as string', 'onStarted {"name":"x","build":{"number":"1","node_name":"n"}}', 'build.number'],
    ['no node_name', 'onStarted {"name":"x","build":{"number":1}}', 'build.node_name'],
    ['node_name null', 'onStarted {"name":"x","build":{"number":1,"node_name":null}}', 'build.node_name'],
  ])('missing-field: %s', (_what, frame, field) => {
    const { reason, detail } = problem(parseFrame(frame));
    expect(reason).toBe('missing-field');
    expect(detail.startsWith(field)).toBe(true);
  });
});
