#!/usr/bin/env node
// Runs before `vitest run` (npm test): the integration tests need a real gearmand (Debian
// gearman-job-server), bubblewrap (the emulated VMs' sandboxes) and chromium (the status page
// test, driven by playwright-core without a browser download). As root with apt-get we
// install what is missing; otherwise we say how.
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { spawnSync } from 'node:child_process';

/** Each tool the tests run, the Debian package that provides it, and how to get it elsewhere. */
const NEEDS = [
  { tool: 'gearmand', pkg: 'gearman-job-server', why: 'the Gearman job server', other: ['Fedora/RHEL:   sudo dnf install -y gearmand', 'macOS:         brew install gearman'] },
  { tool: 'bwrap', pkg: 'bubblewrap', why: 'bubblewrap, the emulated VMs\' sandbox', other: ['Fedora/RHEL:   sudo dnf install -y bubblewrap'] },
  { tool: 'chromium', pkg: 'chromium', why: 'Chromium, for the status page test', other: ['Fedora/RHEL:   sudo dnf install -y chromium'] },
];

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

const found = (n) => onPath(n.tool, ['/usr/sbin', '/usr/local/sbin', '/usr/bin']);
const missing = NEEDS.filter((n) => !found(n));
if (missing.length === 0) process.exit(0);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const aptGet = onPath('apt-get', ['/usr/bin']);
if (isRoot && aptGet) {
  const pkgs = missing.map((n) => n.pkg);
  // A fresh image often has no package lists: update only when the plain install fails.
  const installed = run(aptGet, ['install', '-y', ...pkgs]) || (run(aptGet, ['update']) && run(aptGet, ['install', '-y', ...pkgs]));
  const still = missing.filter((n) => !found(n));
  if (installed && still.length === 0) process.exit(0);
  console.error(`ensure-system-deps: installing ${pkgs.join(' ')} did not provide ${still.map((n) => n.tool).join(', ')}`);
  process.exit(1);
}

for (const n of missing) {
  console.error(
    [
      `ensure-system-deps: ${n.tool} (${n.why}) is needed by the integration tests but was not found on PATH or in /usr/sbin.`,
      'Install it, then run the tests again:',
      `  Debian/Ubuntu: sudo apt-get install -y ${n.pkg}`,
      ...n.other.map((o) => `  ${o}`),
    ].join('\n'),
  );
}
process.exit(1);
