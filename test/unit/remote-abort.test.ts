// runRemote with a signal aborted before the command's channel opened (the bake's build-timeout
// fired during the upload step, which takes no signal): the command is closed and the call
// rejects, instead of a hung setup script running with no deadline at all.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Client } from 'ssh2';
import { runRemote } from '../../src/builder/remote.js';

function fakeConn() {
  const stream = Object.assign(new EventEmitter(), { stderr: new EventEmitter(), closed: false, close: () => void (stream.closed = true) });
  const conn = { exec: (_cmd: string, cb: (err: Error | undefined, s: typeof stream) => void) => setImmediate(() => cb(undefined, stream)) };
  return { conn: conn as unknown as Client, stream };
}

describe('runRemote and an abort', () => {
  it('rejects at once and closes the channel when the signal was aborted before it opened', async () => {
    const { conn, stream } = fakeConn();
    const ctl = new AbortController();
    ctl.abort(new Error('build-timeout: not done'));
    // The command never ends by itself (a hung setup script): only the abort can end the call.
    await expect(runRemote(conn, ['/opt/nodepool-scripts/setup.sh'], { signal: ctl.signal })).rejects.toThrow('build-timeout');
    expect(stream.closed).toBe(true);
  });

  it('still rejects on an abort while the command runs', async () => {
    const { conn, stream } = fakeConn();
    const ctl = new AbortController();
    const run = runRemote(conn, ['sleep', '100'], { signal: ctl.signal });
    await new Promise((r) => setImmediate(r));
    ctl.abort(new Error('daemon stopping'));
    await expect(run).rejects.toThrow('daemon stopping');
    expect(stream.closed).toBe(true);
  });
});
