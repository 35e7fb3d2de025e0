// The SFTP subsystem of an emulated VM with a sandbox (sandbox.ts): the VM's writable paths
// (/opt, /home, /var, /srv) map onto its own tree, so files copied in are what its commands see
// and what a snapshot carries. Other paths answer "no such file". Enough of SFTP v3 for what
// clients do when they copy a directory: realpath, stat, mkdir, open/write/read/close,
// setstat (modes), opendir/readdir, remove, rmdir, rename.
import { closeSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmdirSync, statSync, unlinkSync, writeSync, chmodSync, fchmodSync, type Stats } from 'node:fs';
import { posix, join } from 'node:path';
import ssh2 from 'ssh2';
import type { Attributes, SFTPWrapper } from 'ssh2';
import { SANDBOX_DIRS } from './sandbox.js';

const { OPEN_MODE, STATUS_CODE } = ssh2.utils.sftp;

/** The host path of a VM path inside the tree at `root`, or null if the VM has no such place. */
export function hostPath(root: string, vmPath: string): string | null {
  const p = posix.normalize(posix.isAbsolute(vmPath) ? vmPath : posix.join('/home', vmPath));
  const top = p.split('/')[1];
  if (!(SANDBOX_DIRS as readonly string[]).includes(top)) return null;
  return join(root, p);
}

function openFlags(flags: number): string {
  const rw = (flags & OPEN_MODE.READ) !== 0 && (flags & OPEN_MODE.WRITE) !== 0;
  if (flags & OPEN_MODE.APPEND) return rw ? 'a+' : 'a';
  if (flags & OPEN_MODE.WRITE) {
    const excl = flags & OPEN_MODE.EXCL ? 'x' : '';
    if (flags & OPEN_MODE.TRUNC || flags & OPEN_MODE.CREAT) return `w${excl}${rw ? '+' : ''}`;
    return 'r+';
  }
  return 'r';
}

function attrs(st: Stats): Attributes {
  return { mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, atime: Math.floor(st.atimeMs / 1000), mtime: Math.floor(st.mtimeMs / 1000) };
}

function longname(name: string, st: Stats): string {
  const kind = st.isDirectory() ? 'd' : '-';
  return `${kind}rw-r--r-- 1 root root ${st.size} Jan  1 00:00 ${name}`;
}

/** Serves one SFTP session on `sftp` for the tree at `root`. */
export function serveSftp(sftp: SFTPWrapper, root: string): void {
  const files = new Map<string, number>();
  const dirs = new Map<string, { path: string; sent: boolean }>();
  let next = 0;
  const newHandle = () => Buffer.from(String(++next));
  const fail = (id: number, err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    sftp.status(id, code === 'ENOENT' ? STATUS_CODE.NO_SUCH_FILE : code === 'EACCES' || code === 'EPERM' ? STATUS_CODE.PERMISSION_DENIED : STATUS_CODE.FAILURE, String((err as Error).message));
  };
  /** Runs `fn` on the host path of `vmPath`; a path outside the tree is "no such file". */
  const at = (id: number, vmPath: string, fn: (host: string) => void) => {
    const host = hostPath(root, vmPath);
    if (!host) return sftp.status(id, STATUS_CODE.NO_SUCH_FILE, `${vmPath}: no such file`);
    try {
      fn(host);
    } catch (err) {
      fail(id, err);
    }
  };
  const file = (id: number, handle: Buffer, fn: (fd: number) => void) => {
    const fd = files.get(handle.toString());
    if (fd === undefined) return sftp.status(id, STATUS_CODE.FAILURE, 'bad handle');
    try {
      fn(fd);
    } catch (err) {
      fail(id, err);
    }
  };

  sftp.on('REALPATH', (id, path) => {
    const p = posix.normalize(posix.isAbsolute(path) ? path : posix.join('/home', path));
    sftp.name(id, [{ filename: p, longname: p, attrs: {} as Attributes }]);
  });
  sftp.on('STAT', (id, path) => at(id, path, (h) => sftp.attrs(id, attrs(statSync(h)))));
  sftp.on('LSTAT', (id, path) => at(id, path, (h) => sftp.attrs(id, attrs(lstatSync(h)))));
  sftp.on('MKDIR', (id, path, a) =>
    at(id, path, (h) => {
      mkdirSync(h, { mode: a?.mode ?? 0o755 });
      sftp.status(id, STATUS_CODE.OK);
    }),
  );
  sftp.on('RMDIR', (id, path) => at(id, path, (h) => (rmdirSync(h), sftp.status(id, STATUS_CODE.OK))));
  sftp.on('REMOVE', (id, path) => at(id, path, (h) => (unlinkSync(h), sftp.status(id, STATUS_CODE.OK))));
  sftp.on('RENAME', (id, from, to) =>
    at(id, from, (hf) => {
      const ht = hostPath(root, to);
      if (!ht) return sftp.status(id, STATUS_CODE.PERMISSION_DENIED, `${to}: outside the VM's writable paths`);
      renameSync(hf, ht);
      sftp.status(id, STATUS_CODE.OK);
    }),
  );
  sftp.on('SETSTAT', (id, path, a) =>
    at(id, path, (h) => {
      if (a.mode !== undefined) chmodSync(h, a.mode & 0o7777);
      sftp.status(id, STATUS_CODE.OK);
    }),
  );
  sftp.on('OPEN', (id, path, flags, a) =>
    at(id, path, (h) => {
      const fd = openSync(h, openFlags(flags), a?.mode ?? 0o644);
      const handle = newHandle();
      files.set(handle.toString(), fd);
      sftp.handle(id, handle);
    }),
  );
  sftp.on('WRITE', (id, handle, offset, data) => file(id, handle, (fd) => (writeSync(fd, data, 0, data.length, offset), sftp.status(id, STATUS_CODE.OK))));
  sftp.on('READ', (id, handle, offset, len) =>
    file(id, handle, (fd) => {
      const buf = Buffer.alloc(len);
      const n = readSync(fd, buf, 0, len, offset);
      if (n === 0) sftp.status(id, STATUS_CODE.EOF);
      else sftp.data(id, buf.subarray(0, n));
    }),
  );
  sftp.on('FSTAT', (id, handle) => file(id, handle, (fd) => sftp.attrs(id, attrs(fstatSync(fd)))));
  sftp.on('FSETSTAT', (id, handle, a) =>
    file(id, handle, (fd) => {
      if (a.mode !== undefined) fchmodSync(fd, a.mode & 0o7777);
      sftp.status(id, STATUS_CODE.OK);
    }),
  );
  sftp.on('OPENDIR', (id, path) =>
    at(id, path, (h) => {
      if (!statSync(h).isDirectory()) return sftp.status(id, STATUS_CODE.FAILURE, `${path}: not a directory`);
      const handle = newHandle();
      dirs.set(handle.toString(), { path: h, sent: false });
      sftp.handle(id, handle);
    }),
  );
  sftp.on('READDIR', (id, handle) => {
    const d = dirs.get(handle.toString());
    if (!d) return sftp.status(id, STATUS_CODE.FAILURE, 'bad handle');
    if (d.sent) return sftp.status(id, STATUS_CODE.EOF);
    d.sent = true;
    try {
      sftp.name(
        id,
        readdirSync(d.path).map((n) => {
          const st = lstatSync(join(d.path, n));
          return { filename: n, longname: longname(n, st), attrs: attrs(st) };
        }),
      );
    } catch (err) {
      fail(id, err);
    }
  });
  sftp.on('CLOSE', (id, handle) => {
    const key = handle.toString();
    const fd = files.get(key);
    if (fd !== undefined) {
      files.delete(key);
      try {
        closeSync(fd);
      } catch (err) {
        return fail(id, err);
      }
    } else if (!dirs.delete(key)) return sftp.status(id, STATUS_CODE.FAILURE, 'bad handle');
    sftp.status(id, STATUS_CODE.OK);
  });
  sftp.on('end', () => {
    for (const fd of files.values()) closeSync(fd);
    files.clear();
  });
}
