// secure.conf read as Python's configparser reads Nodepool 0.x's: sections, `=` and `:`, comments,
// continuation lines, [DEFAULT], %(key)s and %%; located errors that never show a value.
import { describe, expect, it } from 'vitest';
import { parseIni, parseSecureConf } from '../../src/config/secure-conf.js';
import { ConfigError } from '../../src/errors.js';

function errors(text: string): string[] {
  try {
    parseIni(text, 's.conf');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected errors');
}

const values = (text: string) => Object.fromEntries(parseIni(text, 's.conf').map((s) => [s.name, Object.fromEntries([...s.values].map(([k, v]) => [k, v.value]))]));

describe('parseIni (configparser rules)', () => {
  it('reads sections, both delimiters, lowercased keys and stripped values', () => {
    expect(values('[database]\nDBURI = mysql://a\n[jenkins "t1"]\nuser: nodepool\napikey=  k \n')).toEqual({
      database: { dburi: 'mysql://a' },
      'jenkins "t1"': { user: 'nodepool', apikey: 'k' },
    });
  });

  it('skips # and ; comment lines and blank lines; joins indented continuation lines', () => {
    expect(values('# secrets\n; more\n[a]\n\nkey = first\n  second\nother = x\n')).toEqual({ a: { key: 'first\nsecond', other: 'x' } });
  });

  it('inherits [DEFAULT] and interpolates %(key)s and %%', () => {
    expect(values('[DEFAULT]\nhost = db.example.org\n[database]\ndburi = mysql://np:p%%w@%(host)s/nodepool\n')).toEqual({
      database: { host: 'db.example.org', dburi: 'mysql://np:p%w@db.example.org/nodepool' },
    });
  });

  it('reports located errors without showing the value', () => {
    expect(errors('key = outside\n')).toEqual(['s.conf:1:1: key "key" before any [section]']);
    expect(errors('[a]\njust words\n')).toEqual(['s.conf:2:1: expected [section], key = value, or a comment']);
    expect(errors('[a]\nk = 1\n[a]\n')).toEqual(['s.conf:3:1: section [a] appears twice']);
    expect(errors('[a]\nk = 1\nk = 2\n')).toEqual(['s.conf:3:1: [a] k: appears twice']);
    const bad = errors('[database]\ndburi = mysql://np:50%off@h/db\n');
    expect(bad).toEqual(['s.conf:2:9: [database] dburi: "%" must be written "%%" or start a %(key)s reference to a key of the section']);
    expect(bad.join()).not.toContain('50%off');
  });
});

describe('parseSecureConf', () => {
  it('reads [database] dburi and [jenkins "TARGET"] url, user, apikey, credentials; the rest is a warning', () => {
    const conf = parseSecureConf(
      '[database]\ndburi=mysql://x\n\n[jenkins "fake-target"]\nuser=fake\napikey=fake-key\ncredentials=cred\nurl=http://fake-url\ncolour=blue\n\n[zuul]\nx=1\n',
      's.conf',
    );
    expect(conf.dburi?.value).toBe('mysql://x');
    const j = conf.jenkins.get('fake-target')!;
    expect([j.url?.value, j.user?.value, j.apikey?.value, j.credentials?.value]).toEqual(['http://fake-url', 'fake', 'fake-key', 'cred']);
    expect(conf.warnings).toEqual(['s.conf:9:1: [jenkins "fake-target"] colour: unknown key; ignored', 's.conf:11:1: [zuul]: unknown section; ignored (0.x reads [database] and [jenkins "TARGET"])']);
  });
});
