// Nodepool 0.x's secure.conf: an INI file read as Python's configparser reads it (the `ini` npm
// package does not run on Node 20). `[database] dburi` and `[jenkins "TARGET"] url, user, apikey,
// credentials`. Values are secrets: no message here ever contains one.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';

export interface IniValue {
  value: string;
  line: number;
  col: number;
}

export interface IniSection {
  name: string;
  line: number;
  values: Map<string, IniValue>;
}

/**
 * configparser's rules: `[section]` headers; `key = value` or `key: value` (keys lowercased,
 * both sides stripped); lines starting with `#` or `;` are comments; an indented line continues
 * the value above; a `[DEFAULT]` section's keys are inherited by every section; `%(key)s` refers
 * to another key of the section and `%%` is a literal `%` (BasicInterpolation). Duplicate sections
 * or keys, keys outside a section and lines that are none of these are errors.
 */
export function parseIni(text: string, file: string): IniSection[] {
  const sections: IniSection[] = [];
  const problems: string[] = [];
  let defaults: IniSection | null = null;
  let current: IniSection | null = null;
  let last: { value: IniValue } | null = null;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '' ) {
      last = null;
      return;
    }
    if (/^[#;]/.test(trimmed)) return;
    if (/^\s/.test(raw) && last) {
      last.value.value += `\n${trimmed}`;
      return;
    }
    const header = /^\[(.+)\]$/.exec(trimmed);
    if (header) {
      const name = header[1];
      last = null;
      if (name === 'DEFAULT') {
        defaults ??= { name, line, values: new Map() };
        current = defaults;
        return;
      }
      if (sections.some((s) => s.name === name)) problems.push(`${file}:${line}:1: section [${name}] appears twice`);
      current = { name, line, values: new Map() };
      sections.push(current);
      return;
    }
    const m = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(trimmed);
    if (!m) {
      problems.push(`${file}:${line}:1: expected [section], key = value, or a comment`);
      return;
    }
    if (!current) {
      problems.push(`${file}:${line}:1: key "${m[1].toLowerCase()}" before any [section]`);
      return;
    }
    const key = m[1].toLowerCase();
    if (current.values.has(key)) problems.push(`${file}:${line}:1: [${current.name}] ${key}: appears twice`);
    const entry: IniValue = { value: m[2], line, col: raw.indexOf(m[2]) + 1 || raw.length + 1 };
    current.values.set(key, entry);
    last = { value: entry };
  });
  if (problems.length > 0) throw new ConfigError(problems);
  const inherited = defaults as IniSection | null;
  for (const s of sections) {
    if (inherited) for (const [k, v] of inherited.values) if (!s.values.has(k)) s.values.set(k, v);
    const resolved = new Map<string, IniValue>();
    for (const [k, v] of s.values) resolved.set(k, { ...v, value: interpolate(s, k, file, problems) });
    s.values = resolved;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return sections;
}

function interpolate(section: IniSection, key: string, file: string, problems: string[], depth = 0): string {
  const entry = section.values.get(key)!;
  if (depth > 10) {
    problems.push(`${file}:${entry.line}:${entry.col}: [${section.name}] ${key}: interpolation nested too deeply`);
    return '';
  }
  return entry.value.replace(/%(%|\((.*?)\)s|)/g, (all, what: string, ref: string | undefined) => {
    if (what === '%') return '%';
    if (ref !== undefined && section.values.has(ref.toLowerCase())) return interpolate(section, ref.toLowerCase(), file, problems, depth + 1);
    problems.push(`${file}:${entry.line}:${entry.col}: [${section.name}] ${key}: "%" must be written "%%" or start a %(key)s reference to a key of the section`);
    return all;
  });
}

export interface SecureJenkins {
  target: string;
  line: number;
  url?: IniValue;
  user?: IniValue;
  apikey?: IniValue;
  credentials?: IniValue;
}

export interface SecureConf {
  file: string;
  dburi?: IniValue;
  jenkins: Map<string, SecureJenkins>;
  /** Sections and keys 0.x did not read either: `FILE:LINE:COL: what`, no values. */
  warnings: string[];
}

const JENKINS_KEYS = ['url', 'user', 'apikey', 'credentials'] as const;

export function parseSecureConf(text: string, file: string): SecureConf {
  const conf: SecureConf = { file, jenkins: new Map(), warnings: [] };
  for (const s of parseIni(text, file)) {
    const jenkins = /^jenkins\s+"(.+)"$/.exec(s.name);
    if (s.name === 'database') {
      conf.dburi = s.values.get('dburi');
      for (const [k, v] of s.values) if (k !== 'dburi') conf.warnings.push(`${file}:${v.line}:1: [database] ${k}: unknown key; ignored`);
    } else if (jenkins) {
      const entry: SecureJenkins = { target: jenkins[1], line: s.line };
      for (const [k, v] of s.values) {
        if ((JENKINS_KEYS as readonly string[]).includes(k)) entry[k as (typeof JENKINS_KEYS)[number]] = v;
        else conf.warnings.push(`${file}:${v.line}:1: [${s.name}] ${k}: unknown key; ignored`);
      }
      conf.jenkins.set(entry.target, entry);
    } else {
      conf.warnings.push(`${file}:${s.line}:1: [${s.name}]: unknown section; ignored (0.x reads [database] and [jenkins "TARGET"])`);
    }
  }
  return conf;
}

export function loadSecureConf(file: string): SecureConf {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read the secure file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
  }
  return parseSecureConf(text, file);
}
