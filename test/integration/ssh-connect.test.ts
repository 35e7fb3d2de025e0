// connectSsh against a real SSH server (ssh2's) on 127.0.0.1: an error the connection raises
// after login (a reset mid-session) must not be an unhandled 'error' event, which would kill the daemon.
import { afterAll, beforeAll, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import type { AddressInfo } from 'node:net';
import { connectSsh } from '../../src/builder/remote.js';

const hostKey = ssh2.utils.generateKeyPairSync('ed25519');
const userKey = ssh2.utils.generateKeyPairSync('ed25519');
let server: ssh2.Server;
let port = 0;

beforeAll(async () => {
  server = new ssh2.Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on('authentication', (ctx) => (ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey'])));
    client.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

it('keeps listening for errors after login, so errors after login (a reset, then a broken pipe) do not throw', async () => {
  const conn = await connectSsh({ host: '127.0.0.1', port, username: 'jenkins', privateKey: userKey.private }, 5000);
  try {
    // Twice: a one-shot listener would take the first and leave the second unhandled.
    expect(() => conn.emit('error', new Error('read ECONNRESET'))).not.toThrow();
    expect(() => conn.emit('error', new Error('write EPIPE'))).not.toThrow();
  } finally {
    conn.end();
  }
});
