// A provider's `cloud: NAME` in a 0.x file names an entry of a standard clouds.yaml, found as
// os-client-config finds it: OS_CLIENT_CONFIG_FILE, then ./clouds.yaml, ~/.config/openstack/ and
// /etc/openstack/ (each as .yaml, .yml or .json); the first file that exists is the one read.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export interface CloudsYamlSearch {
  env: Record<string, string | undefined>;
  cwd: string;
}

export function cloudsYamlCandidates({ env, cwd }: CloudsYamlSearch): string[] {
  const dirs = [cwd, env.HOME ? join(env.HOME, '.config', 'openstack') : undefined, '/etc/openstack'].filter((d) => d !== undefined);
  const files = dirs.flatMap((d) => ['clouds.yaml', 'clouds.yml', 'clouds.json'].map((f) => join(d, f)));
  return env.OS_CLIENT_CONFIG_FILE ? [env.OS_CLIENT_CONFIG_FILE, ...files] : files;
}

export interface CloudAuth {
  file: string;
  authUrl?: string;
  username?: string;
  password?: string;
  projectName?: string;
  userDomainName?: string;
  projectDomainName?: string;
  regionName?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);

/** The named cloud, or a message saying why it is not there (never a value). */
export function findCloud(name: string, search: CloudsYamlSearch): CloudAuth | { error: string } {
  const candidates = cloudsYamlCandidates(search);
  const file = candidates.find((f) => existsSync(f));
  if (!file) return { error: `cloud "${name}": no clouds.yaml found (looked for ${candidates.join(', ')})` };
  let data: unknown;
  try {
    data = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return { error: `cloud "${name}": cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'not YAML'})` };
  }
  const clouds = isObj(data) && isObj(data.clouds) ? data.clouds : {};
  const cloud = clouds[name];
  if (!isObj(cloud)) {
    const known = Object.keys(clouds);
    return { error: `cloud "${name}" is not in ${file}${known.length ? ` (it has ${known.map((k) => `"${k}"`).join(', ')})` : ''}` };
  }
  const auth = isObj(cloud.auth) ? cloud.auth : {};
  const domain = str(auth.domain_name);
  const regions = Array.isArray(cloud.regions) ? cloud.regions : [];
  return {
    file,
    authUrl: str(auth.auth_url),
    username: str(auth.username),
    password: str(auth.password),
    // os-client-config accepts the tenant spellings of Keystone v2 as well.
    projectName: str(auth.project_name) ?? str(auth.tenant_name) ?? str(auth.project_id) ?? str(auth.tenant_id),
    userDomainName: str(auth.user_domain_name) ?? domain,
    projectDomainName: str(auth.project_domain_name) ?? domain,
    regionName: str(cloud.region_name) ?? (regions.length === 1 ? str(isObj(regions[0]) ? regions[0].name : regions[0]) : undefined),
  };
}
