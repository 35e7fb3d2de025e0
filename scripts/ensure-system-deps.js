#!/usr/bin/env node
// Runs before `vitest run` (npm test): the Gearman integration tests need the real gearmand.
// As root with apt-get we install it (Debian package gearman-job-server); otherwise we say how.
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { spawnSync } from 'node:child_process';

const PACKAGE = 'gearman-job-server';

function onPath(name, extraDirs = []) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...extraDirs];
  return dirs.map((d) => join(d, name)).find((p) => existsSync(p)) ?? null;
}

function run(cmd, args) {
  console.error(`ensure-system-deps: ${cmd} ${args.join(' ')}`);
  const res = spawnSync(cmd, args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return res.status === 0;
}

function gearmand() {
  return onPath('gearmand', ['/usr/sbin', '/usr/local/sbin']);
}

if (gearmand()) process.exit(0);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const aptGet = onPath('apt-get', ['/usr/bin']);
if (isRoot && aptGet) {
  // A fresh image often has no package lists: update only when the plain install fails.
  const installed = run(aptGet, ['install', '-y', PACKAGE]) || (run(aptGet, ['update']) && run(aptGet, ['install', '-y', PACKAGE]));
  if (installed && gearmand()) process.exit(0);
  console.error(`ensure-system-deps: installing ${PACKAGE} did not provide gearmand`);
  process.exit(1);
}

console.error(
  [
    'ensure-system-deps: gearmand (the Gearman job server) is needed by the integration tests but was not found',
    'on PATH or in /usr/sbin. Install it, then run the tests again:',
    `  Debian/Ubuntu: sudo apt-get install -y ${PACKAGE}`,
    '  Fedora/RHEL:   sudo dnf install -y gearmand',
    '  macOS:         brew install gearman',
  ].join('\n'),
);
process.exit(1);
