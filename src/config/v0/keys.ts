// Every key of a Nodepool 0.x nodepool.yaml (the 0.2.0 and 0.3.1 configuration references, plus
// the 2013-14 layout with images under targets) and of its secure.conf, with what we do with it.
// One table: the loader warns from it, rejects keys missing from it, and the README's "Coming
// from Nodepool 0.x" table is generated from it (scripts/gen-v0-table.ts).

/**
 * - `same`: same meaning, same place (or only moved under a native key); no warning.
 * - `changed`: mapped, but we do something different; a warning says what.
 * - `ignored`: no counterpart; a warning says what we do instead.
 * - `unsupported`: a feature we cannot provide; a warning, and the labels that need it are disabled.
 */
export type Treatment = 'same' | 'changed' | 'ignored' | 'unsupported';

export interface V0Key {
  /** Key path in the 0.x file: `providers[].images[].base-image`; `secure.conf:` for the INI file. */
  key: string;
  treatment: Treatment;
  /** Where the value goes in a native file, if anywhere. */
  native?: string;
  /** What we do instead (the warning's text), or for `same` keys any detail worth a line. */
  note: string;
}

export const V0_KEYS: readonly V0Key[] = [
  // Top level.
  { key: 'script-dir', treatment: 'same', native: 'scripts-dir', note: 'a relative path is taken relative to the config file (0.x: to the working directory), with a warning' },
  { key: 'elements-dir', treatment: 'ignored', note: 'diskimage-builder is not supported; images are baked from snapshots only' },
  { key: 'images-dir', treatment: 'ignored', note: 'diskimage-builder is not supported; images are baked from snapshots only' },
  { key: 'dburi', treatment: 'ignored', note: 'state is kept in SQLite at --db (NODEPOOL_DB); the database URI is not used' },
  { key: 'cron', treatment: 'same', native: 'cron', note: '' },
  { key: 'cron.image-update', treatment: 'same', native: 'cron.image-update', note: '' },
  { key: 'cron.update-image', treatment: 'changed', native: 'cron.image-update', note: 'the 2013 name of cron.image-update; read as cron.image-update' },
  { key: 'cron.cleanup', treatment: 'changed', native: 'cleanup-interval', note: 'cleanup runs every cleanup-interval; a "*/N * * * *" schedule becomes N minutes, any other the default 60s' },
  { key: 'cron.check', treatment: 'ignored', note: 'ready nodes are not logged into; reconcile-interval checks them against their master and max-age.ready bounds them' },
  { key: 'zmq-publishers', treatment: 'same', native: 'zmq-publishers', note: '' },
  { key: 'gearman-servers', treatment: 'same', native: 'gearman-servers', note: '' },
  { key: 'gearman-servers[].host', treatment: 'same', native: 'gearman-servers[].host', note: '' },
  { key: 'gearman-servers[].port', treatment: 'same', native: 'gearman-servers[].port', note: 'default 4730' },
  { key: 'zookeeper-servers', treatment: 'ignored', note: 'one daemon (or several sharing the store) needs no ZooKeeper' },
  { key: 'zookeeper-servers[].host', treatment: 'ignored', note: 'see zookeeper-servers' },
  { key: 'zookeeper-servers[].port', treatment: 'ignored', note: 'see zookeeper-servers' },
  { key: 'zookeeper-servers[].chroot', treatment: 'ignored', note: 'see zookeeper-servers' },
  { key: 'diskimages', treatment: 'unsupported', note: 'diskimage-builder images are not built; provider images that use one are left out of their labels' },
  { key: 'diskimages[].name', treatment: 'unsupported', note: 'see diskimages' },
  { key: 'diskimages[].release', treatment: 'unsupported', note: 'see diskimages' },
  { key: 'diskimages[].elements', treatment: 'unsupported', note: 'see diskimages' },
  { key: 'diskimages[].env-vars', treatment: 'unsupported', note: 'see diskimages' },

  // Labels.
  { key: 'labels', treatment: 'same', native: 'labels', note: '' },
  { key: 'labels[].name', treatment: 'same', native: 'labels[].name', note: '' },
  { key: 'labels[].image', treatment: 'same', native: 'labels[].image', note: '' },
  { key: 'labels[].min-ready', treatment: 'same', native: 'labels[].min-ready', note: '0.x default 2 (native default 0); -1 becomes disabled: "min-ready -1"' },
  { key: 'labels[].providers', treatment: 'same', native: 'labels[].providers', note: '' },
  { key: 'labels[].providers[].name', treatment: 'same', native: 'labels[].providers[].name', note: '' },
  { key: 'labels[].subnodes', treatment: 'unsupported', note: 'multi-node groups are not supported: the label is disabled' },
  { key: 'labels[].ready-script', treatment: 'ignored', note: 'not run: a node is ready once it answers SSH and is registered' },

  // Providers.
  { key: 'providers', treatment: 'same', native: 'providers', note: '' },
  { key: 'providers[].name', treatment: 'same', native: 'providers[].name', note: '' },
  { key: 'providers[].cloud', treatment: 'same', native: 'providers[].auth', note: 'auth-url, username, password, project and domains read from clouds.yaml as os-client-config finds it' },
  { key: 'providers[].username', treatment: 'same', native: 'providers[].auth.username', note: '' },
  { key: 'providers[].password', treatment: 'same', native: 'providers[].auth.password', note: 'config-migrate writes it as an ${ENV} reference' },
  { key: 'providers[].project-id', treatment: 'changed', native: 'providers[].auth.project-name', note: 'used as the Keystone v3 project name (novaclient\'s project_id was the tenant name), in domain Default' },
  { key: 'providers[].project-name', treatment: 'same', native: 'providers[].auth.project-name', note: '' },
  { key: 'providers[].tenant-name', treatment: 'changed', native: 'providers[].auth.project-name', note: 'Keystone v2\'s name for project-name, read as os-client-config reads it (project-name wins when both are set)' },
  { key: 'providers[].tenant-id', treatment: 'changed', native: 'providers[].auth.project-name', note: 'Keystone v2\'s name for project-id, read as project-id is (project-name, tenant-name and project-id win over it)' },
  { key: 'providers[].auth-url', treatment: 'same', native: 'providers[].auth.auth-url', note: 'a Keystone v2.0 URL becomes its v3 URL; "fake" (0.x\'s built-in fake cloud) becomes http://fake.invalid/, which never answers' },
  { key: 'providers[].region-name', treatment: 'same', native: 'providers[].region-name', note: '' },
  { key: 'providers[].service-type', treatment: 'ignored', note: 'the catalog\'s "compute" entry is used' },
  { key: 'providers[].service-name', treatment: 'ignored', note: 'the catalog\'s "compute" entry is used, whatever its name' },
  { key: 'providers[].api-timeout', treatment: 'ignored', note: 'API calls have the driver\'s own timeouts, retries and backoff' },
  { key: 'providers[].api_timeout', treatment: 'ignored', note: 'API calls have the driver\'s own timeouts, retries and backoff' },
  { key: 'providers[].max-servers', treatment: 'same', native: 'providers[].max-servers', note: '-1 (0.x: provider being removed) becomes 0' },
  { key: 'providers[].rate', treatment: 'same', native: 'providers[].rate', note: 'seconds between API calls, default 1.0 as in 0.x' },
  { key: 'providers[].boot-timeout', treatment: 'changed', native: 'providers[].boot-timeout', note: 'one budget per attempt for ACTIVE and SSH together (0.x: the SSH wait after ACTIVE); 0.x default 60' },
  { key: 'providers[].launch-timeout', treatment: 'changed', native: 'providers[].launch-timeout', note: 'counts every attempt from the node\'s creation (0.x: create to ACTIVE, per attempt)' },
  { key: 'providers[].availability-zones', treatment: 'same', native: 'providers[].availability-zones', note: '' },
  { key: 'providers[].keypair', treatment: 'same', native: 'providers[].keypair', note: '' },
  { key: 'providers[].pool', treatment: 'ignored', note: 'no floating IP is attached; the SSH address is the public one Nova reports, else the private one' },
  { key: 'providers[].networks', treatment: 'same', native: 'providers[].networks', note: '' },
  { key: 'providers[].networks[].net-id', treatment: 'same', native: 'providers[].networks[].id', note: '' },
  { key: 'providers[].networks[].net-label', treatment: 'same', native: 'providers[].networks[].name', note: '' },
  { key: 'providers[].networks[].name', treatment: 'same', native: 'providers[].networks[].name', note: '' },
  { key: 'providers[].networks[].public', treatment: 'ignored', note: 'the SSH address is chosen from the addresses Nova reports: public before private (use-private-address changes that)' },
  { key: 'providers[].ipv6-preferred', treatment: 'same', native: 'providers[].ipv6-preferred', note: '' },
  { key: 'providers[].ipv6_preferred', treatment: 'same', native: 'providers[].ipv6-preferred', note: 'the 0.2 documentation\'s spelling' },
  { key: 'providers[].image-type', treatment: 'ignored', note: 'only used to upload diskimage-builder images, which are not supported' },
  { key: 'providers[].template-hostname', treatment: 'same', native: 'providers[].images[].template-hostname', note: 'set on each of the provider\'s images; {image.name} becomes {image}, {provider.name} the provider\'s name; any other field: a warning, and the default template-{image}-{timestamp}' },
  { key: 'providers[].clean-floating-ips', treatment: 'ignored', note: 'no floating IP is ever allocated, so none can leak' },

  // Provider images.
  { key: 'providers[].images', treatment: 'same', native: 'providers[].images', note: '' },
  { key: 'providers[].images[].name', treatment: 'same', native: 'providers[].images[].name', note: '' },
  { key: 'providers[].images[].base-image', treatment: 'same', native: 'providers[].images[].base-image', note: '' },
  { key: 'providers[].images[].min-ram', treatment: 'same', native: 'providers[].images[].min-ram', note: '' },
  { key: 'providers[].images[].name-filter', treatment: 'same', native: 'providers[].images[].name-filter', note: '' },
  { key: 'providers[].images[].setup', treatment: 'same', native: 'providers[].images[].setup', note: 'looked up under images/' },
  { key: 'providers[].images[].reset', treatment: 'ignored', note: 'no reset script is run' },
  { key: 'providers[].images[].username', treatment: 'same', native: 'providers[].images[].username', note: 'default jenkins, as in 0.x' },
  { key: 'providers[].images[].user-home', treatment: 'ignored', note: 'the Jenkins agent\'s remote-fs (targets[].jenkins.remote-fs, default /home/jenkins) is used' },
  { key: 'providers[].images[].private-key', treatment: 'same', native: 'providers[].images[].private-key', note: 'default /var/lib/jenkins/.ssh/id_rsa, as in 0.x' },
  { key: 'providers[].images[].config-drive', treatment: 'changed', native: 'providers[].config-drive', note: 'config-drive is set per provider: true on any image turns it on for every image of the provider' },
  { key: 'providers[].images[].meta', treatment: 'same', native: 'providers[].images[].meta', note: '' },
  { key: 'providers[].images[].diskimage', treatment: 'unsupported', note: 'diskimage-builder images are not built: the image is left out of its labels (a label with no provider left is disabled)' },
  { key: 'providers[].images[].subnodes', treatment: 'unsupported', note: 'multi-node groups are not supported; ignored' },

  // Targets.
  { key: 'targets', treatment: 'same', native: 'targets', note: 'each label registers with the first target (0.x spread its nodes over all of them)' },
  { key: 'targets[].name', treatment: 'same', native: 'targets[].name', note: '' },
  { key: 'targets[].jenkins', treatment: 'same', native: 'targets[].jenkins', note: 'a target without a Jenkins URL, user, API key and credentials id (here or in secure.conf) registers nowhere: it is left out' },
  { key: 'targets[].jenkins.url', treatment: 'same', native: 'targets[].jenkins.url', note: '' },
  { key: 'targets[].jenkins.user', treatment: 'same', native: 'targets[].jenkins.user', note: '' },
  { key: 'targets[].jenkins.apikey', treatment: 'same', native: 'targets[].jenkins.apikey', note: 'config-migrate writes it as an ${ENV} reference' },
  { key: 'targets[].jenkins.credentials-id', treatment: 'same', native: 'targets[].jenkins.credentials-id', note: '' },
  { key: 'targets[].jenkins.test-job', treatment: 'ignored', note: 'no test job is run: a node is ready once it answers SSH and is registered' },
  { key: 'targets[].hostname', treatment: 'ignored', note: 'nodes are named {label}-{provider}-{deployment}-{id}' },
  { key: 'targets[].subnode-hostname', treatment: 'ignored', note: 'multi-node groups are not supported' },
  { key: 'targets[].subnodes-hostname', treatment: 'ignored', note: 'multi-node groups are not supported' },
  { key: 'targets[].rate', treatment: 'ignored', note: 'calls to a master are not rate-limited; failed registrations are retried with backoff' },
  { key: 'targets[].assign-via-gearman', treatment: 'changed', native: 'targets[].gearman', note: 'becomes gearman: {} (node_assign:<target> on the gearman-servers)' },
  { key: 'targets[].images', treatment: 'changed', native: 'labels', note: 'the 2013 layout: each image becomes a label of that name on this target' },
  { key: 'targets[].images[].name', treatment: 'same', native: 'labels[].name', note: 'also the label\'s image' },
  { key: 'targets[].images[].min-ready', treatment: 'same', native: 'labels[].min-ready', note: '' },
  { key: 'targets[].images[].providers', treatment: 'same', native: 'labels[].providers', note: '' },
  { key: 'targets[].images[].providers[].name', treatment: 'same', native: 'labels[].providers[].name', note: '' },
  { key: 'targets[].images[].providers[].min-ready', treatment: 'changed', native: 'labels[].min-ready', note: 'per-provider min-ready is summed into the label\'s min-ready' },

  // secure.conf (-s FILE).
  { key: 'secure.conf: [database] dburi', treatment: 'ignored', note: 'state is kept in SQLite at --db; the database URI is not used (nor shown)' },
  { key: 'secure.conf: [jenkins "TARGET"] url', treatment: 'same', native: 'targets[].jenkins.url', note: '' },
  { key: 'secure.conf: [jenkins "TARGET"] user', treatment: 'same', native: 'targets[].jenkins.user', note: '' },
  { key: 'secure.conf: [jenkins "TARGET"] apikey', treatment: 'same', native: 'targets[].jenkins.apikey', note: 'config-migrate writes it as an ${ENV} reference' },
  { key: 'secure.conf: [jenkins "TARGET"] credentials', treatment: 'same', native: 'targets[].jenkins.credentials-id', note: '' },
];

const BY_KEY = new Map(V0_KEYS.map((k) => [k.key, k]));

/** The table entry for a concrete path (list indexes written as `[]`). */
export function v0Key(pattern: string): V0Key {
  const k = BY_KEY.get(pattern);
  if (!k) throw new RangeError(`no 0.x key ${pattern} in the table`);
  return k;
}

const WHAT: Record<Treatment, string> = { same: 'same', changed: 'changed', ignored: 'ignored', unsupported: 'not supported' };
const cell = (s: string) => s.replace(/\|/g, '\\|');

/** The README's "Coming from Nodepool 0.x" key table, in Markdown (scripts/gen-v0-table.ts writes it). */
export function renderV0Table(): string {
  const rows = V0_KEYS.map((k) => `| \`${cell(k.key)}\` | ${k.native ? `\`${cell(k.native)}\`` : '—'} | ${WHAT[k.treatment]} | ${cell(k.note)} |`);
  return ['| 0.x key | nodepool-ts key | | what we do |', '|---|---|---|---|', ...rows].join('\n') + '\n';
}

export const README_TABLE_START = '<!-- generated by scripts/gen-v0-table.ts from src/config/v0/keys.ts: do not edit -->';
export const README_TABLE_END = '<!-- end of generated table -->';

/** The README text with its table replaced by the current one; throws when the markers are missing. */
export function withV0Table(readme: string): string {
  const start = readme.indexOf(README_TABLE_START);
  const end = readme.indexOf(README_TABLE_END);
  if (start === -1 || end < start) throw new Error('README.md has no generated 0.x key table markers');
  return `${readme.slice(0, start + README_TABLE_START.length)}\n${renderV0Table()}${readme.slice(end)}`;
}
