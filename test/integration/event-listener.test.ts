// EventListener against real zeromq Publishers on free tcp ports, sending frames shaped as the
// Jenkins ZMQ event publisher plugin sends them.
import { afterEach, expect, it } from 'vitest';
import { Publisher } from 'zeromq';
import { waitFor } from '../helpers/wait.js';
import { EventListener } from '../../src/events/listener.js';
import type { BuildEvent } from '../../src/events/frame.js';
import { ManualClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function publisher(port = 0): Promise<{ pub: Publisher; url: string; port: number }> {
  const pub = new Publisher({ linger: 0 });
  try {
    await pub.bind(`tcp://127.0.0.1:${port === 0 ? '*' : port}`);
  } catch (err) {
    pub.close();
    throw err;
  }
  closers.push(() => pub.close());
  const url = pub.lastEndpoint!;
  return { pub, url, port: Number(url.split(':').pop()) };
}

function frame(topic: string, name: string, number: number, node = 'small-cloud-a-1'): string {
  const build: Record<string, unknown> = { full_url: `http://jenkins/job/${name}/${number}/`, number, phase: 'STARTED', url: `job/${name}/${number}/`, node_name: node };
  if (topic !== 'onStarted') build.status = 'SUCCESS';
  return `${topic} ${JSON.stringify({ name, url: `job/${name}/`, build })}`;
}

function captureLog() {
  const lines: { level: number; msg: string; reason?: string; suppressedSinceLast?: number }[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
  return { log, lines };
}

/**
 * A SUB socket receives only after its subscription reached the publisher (ZeroMQ's slow
 * joiner): send probe events until one arrives, bounded by waitFor's deadline.
 */
async function untilLive(pub: Publisher, events: BuildEvent[], probe: string): Promise<void> {
  let n = 0;
  await waitFor(
    async () => {
      await pub.send(frame('onStarted', probe, ++n));
      return events.some((e) => e.name === probe);
    },
    { what: `probe ${probe} delivered`, intervalMs: 20, timeoutMs: 15_000 },
  );
}

it('delivers good frames from every publisher, counts garbage, survives a throwing handler and a publisher restart', async () => {
  const a = await publisher();
  const b = await publisher();
  const events: BuildEvent[] = [];
  const { log, lines } = captureLog();
  const listener = new EventListener({
    urls: [a.url, b.url],
    log,
    onEvent: (ev) => {
      if (ev.name === 'explodes') throw new Error('handler bug');
      events.push(ev);
    },
  });
  closers.push(() => listener.close());
  await untilLive(a.pub, events, 'probe-a');
  await untilLive(b.pub, events, 'probe-b');
  const real = () => events.filter((e) => !e.name.startsWith('probe'));

  await a.pub.send(frame('onStarted', 'unit', 1));
  await b.pub.send(frame('onFinalized', 'docs', 2, 'large-cloud-b-9'));
  await waitFor(() => real().length === 2, { what: 'two events' });
  const byName = Object.fromEntries(real().map((e) => [e.name, e]));
  expect(byName.unit).toMatchObject({ topic: 'onStarted', build: { number: 1, node_name: 'small-cloud-a-1' } });
  expect(byName.docs).toMatchObject({ topic: 'onFinalized', build: { number: 2, node_name: 'large-cloud-b-9', status: 'SUCCESS' } });

  // Garbage, an unknown topic, a multi-part message and a throwing handler: all counted, none fatal.
  await a.pub.send('garbage!');
  await a.pub.send('onDeleted {"name":"x"}');
  await a.pub.send(['onStarted', '{"name":"x"}']);
  await a.pub.send(frame('onStarted', 'explodes', 3));
  await a.pub.send(frame('onCompleted', 'after-garbage', 4));
  await waitFor(() => real().some((e) => e.name === 'after-garbage'), { what: 'the frame after the garbage' });
  const stats = listener.stats();
  expect(stats.bad).toEqual({ garbage: 2, 'unknown-topic': 1 });
  expect(stats.handlerErrors).toBe(1);
  expect(stats.received).toBe(stats.handled + 3);
  expect(lines.some((l) => l.msg === 'build event handler failed')).toBe(true);

  // The publisher goes away and comes back on the same port: ZeroMQ reconnects on its own.
  a.pub.close();
  const again = await waitFor(async () => publisher(a.port).catch(() => null), { what: `re-bind port ${a.port}` });
  await untilLive(again.pub, events, 'probe-again');
  await again.pub.send(frame('onFinalized', 'after-restart', 5));
  await waitFor(() => real().some((e) => e.name === 'after-restart'), { what: 'delivery after the restart' });

  // A second listener on the same publishers shows when frames sent after close() have arrived.
  const control: BuildEvent[] = [];
  const witness = new EventListener({ urls: [again.url, b.url], log: createLogger({ level: 'silent' }), onEvent: (ev) => void control.push(ev) });
  closers.push(() => witness.close());
  await untilLive(again.pub, control, 'probe-witness-a');
  await untilLive(b.pub, control, 'probe-witness-b');

  await listener.close();
  await listener.close(); // idempotent
  const before = { events: events.length, received: listener.stats().received };
  await again.pub.send(frame('onStarted', 'after-close', 6));
  await b.pub.send(frame('onStarted', 'after-close', 7));
  await waitFor(() => control.filter((e) => e.name === 'after-close').length === 2, { what: 'the witness to get both frames sent after close' });
  expect(events.length).toBe(before.events);
  expect(listener.stats().received).toBe(before.received);
});

it('logs bad frames at most once per reason per window, with how many it left out', async () => {
  const p = await publisher();
  const clock = new ManualClock(0);
  const events: BuildEvent[] = [];
  const { log, lines } = captureLog();
  const listener = new EventListener({ urls: [p.url], log, clock, badLogWindowMs: 10_000, onEvent: (ev) => void events.push(ev) });
  closers.push(() => listener.close());
  await untilLive(p.pub, events, 'probe');

  for (let i = 0; i < 5; i++) await p.pub.send(`junk-${i}`);
  await p.pub.send('onStarted not-json');
  await waitFor(() => listener.stats().bad.garbage === 5 && listener.stats().bad['not-json'] === 1, { what: 'bad frames counted' });
  const warned = () => lines.filter((l) => l.msg === 'bad build event frame ignored');
  expect(warned().map((l) => l.reason)).toEqual(['garbage', 'not-json']);

  await clock.advance(10_000);
  await p.pub.send('junk-again');
  await waitFor(() => listener.stats().bad.garbage === 6, { what: 'the sixth garbage frame' });
  expect(warned().map((l) => [l.reason, l.suppressedSinceLast])).toEqual([
    ['garbage', 0],
    ['not-json', 0],
    ['garbage', 4],
  ]);
});

it('an async handler that rejects is counted, not fatal', async () => {
  const p = await publisher();
  const events: BuildEvent[] = [];
  const listener = new EventListener({
    urls: [p.url],
    log: createLogger({ level: 'silent' }),
    onEvent: async (ev) => {
      if (ev.name === 'rejects') throw new Error('async handler bug');
      events.push(ev);
    },
  });
  closers.push(() => listener.close());
  await untilLive(p.pub, events, 'probe');
  await p.pub.send(frame('onStarted', 'rejects', 1));
  await p.pub.send(frame('onStarted', 'fine', 2));
  await waitFor(() => events.some((e) => e.name === 'fine'), { what: 'the frame after the rejection' });
  expect(listener.stats().handlerErrors).toBe(1);
});
