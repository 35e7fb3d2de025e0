// The readiness check reaches an IPv6 literal address (an IPv6-only server's only address).
import ssh2 from 'ssh2';
import { expect, it } from 'vitest';
import { reservePort, SshFarm } from '../../providers/openstack/emulator/ssh.js';
import { systemClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { waitForSsh } from '../../src/ssh-check.js';

it('waitForSsh logs in on an IPv6 literal host (::1)', async () => {
  const keys = ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 });
  const reserved = await reservePort();
  await reserved.release();
  const farm = new SshFarm(reserved.port, [keys.public], silentLogger);
  farm.open('::1');
  try {
    await farm.ready();
    await expect(waitForSsh({ host: '::1', port: reserved.port, username: 'jenkins', privateKey: keys.private }, { timeoutMs: 10_000, clock: systemClock })).resolves.toBeUndefined();
  } finally {
    await farm.shut('::1');
  }
});
