// YAML -> typed, validated Config. Keys follow the original Nodepool's nodepool.yaml where the
// concept is the same. Durations accept seconds (number) or "30s"/"5m"/"2h"/"1d" and are held in ms.
import { z } from 'zod';
import { parseDuration } from './duration.js';

const duration = (def: string | number) =>
  z
    .union([z.number(), z.string()])
    .default(def)
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === null) {
        ctx.addIssue({ code: 'custom', message: `expected a duration (seconds, or e.g. "30s", "5m", "2h"), got ${JSON.stringify(v)}` });
        return z.NEVER;
      }
      return ms;
    });

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'expected a name of letters, digits, "-", "_" or "."');

const providerImage = z.strictObject({
  name,
  /** Name or id of the cloud image booted for this label (and baked from, once the builder runs). */
  'base-image': z.string().min(1),
  'min-ram': z.number().int().nonnegative().default(0),
  'name-filter': z.string().optional(),
  /** Setup script under images/, run over SSH when baking. */
  setup: z.string().optional(),
  username: z.string().default('jenkins'),
  'private-key': z.string().default('/var/lib/jenkins/.ssh/id_rsa'),
  meta: z.record(z.string(), z.string()).default({}),
});

const openstackAuth = z.strictObject({
  'auth-url': z.string().url(),
  username: z.string().min(1),
  password: z.string().min(1),
  'project-name': z.string().min(1),
  'user-domain-name': z.string().default('Default'),
  'project-domain-name': z.string().default('Default'),
});

const provider = z.strictObject({
  name,
  driver: z.enum(['openstack', 'ec2']).default('openstack'),
  /** OpenStack: Keystone v3 password credentials. */
  auth: openstackAuth.optional(),
  'region-name': z.string().optional(),
  /** Endpoint interface from the catalog. */
  interface: z.enum(['public', 'internal', 'admin']).default('public'),
  'max-servers': z.number().int().nonnegative(),
  /** As in the original Nodepool: seconds between API calls (0.05 = 20 calls a second). */
  rate: z.number().positive().default(1.0),
  /** Calls that may go out at once after a quiet spell (token bucket size). */
  'rate-burst': z.number().int().positive().default(1),
  /** Launches in flight at once on this provider. */
  'max-concurrency': z.number().int().positive().default(10),
  'boot-timeout': duration(120),
  'launch-timeout': duration(3600),
  'launch-retries': z.number().int().nonnegative().default(3),
  /** How often the shared server list is polled while something waits on it. */
  'poll-interval': duration('2s'),
  'availability-zones': z.array(z.string()).default([]),
  networks: z.array(z.strictObject({ name: z.string().optional(), id: z.string().optional() })).default([]),
  'keypair': z.string().optional(),
  'config-drive': z.boolean().default(false),
  /** Port SSH answers on in the VMs (22 in a real cloud; the emulator uses a high port). */
  'ssh-port': z.number().int().min(1).max(65535).default(22),
  images: z.array(providerImage).min(1),
});

const labelProvider = z.strictObject({ name });

const label = z.strictObject({
  name,
  image: name,
  'min-ready': z.number().int().nonnegative().default(0),
  providers: z.array(labelProvider).min(1),
  /** Target the label's nodes register with; defaults to the first target. */
  target: name.optional(),
});

const jenkinsTarget = z.strictObject({
  url: z.string().url(),
  user: z.string().min(1),
  apikey: z.string().min(1),
  'credentials-id': z.string().min(1),
  /** Remote filesystem root of the agent. */
  'remote-fs': z.string().default('/home/jenkins'),
});

const target = z.strictObject({
  name,
  /** Register nodes with a Jenkins master over its REST API. */
  jenkins: jenkinsTarget.optional(),
  /** Register nodes with any Gearman consumer through node_assign:<name>. */
  gearman: z.strictObject({}).optional(),
});

const job = z.strictObject({
  /** Job name, or a regular expression anchored at both ends. */
  name: z.string().min(1),
  'hold-on-failure': z.number().int().nonnegative().default(0),
});

const gearmanServer = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(4730),
});

export const configSchema = z
  .strictObject({
    'gearman-servers': z.array(gearmanServer).default([]),
    'zmq-publishers': z.array(z.string().regex(/^tcp:\/\/[^:]+:\d+$/, 'expected tcp://HOST:PORT')).default([]),
    /** Cron schedules, as in the original Nodepool (image-update: when images are baked). */
    cron: z.strictObject({ 'image-update': z.string().default('14 2 * * *') }).prefault({}),
    'demand-interval': duration('5s'),
    'cleanup-interval': duration('60s'),
    /** Nodes older than this in a state are deleted: their events were lost. */
    'max-age': z
      .strictObject({
        ready: duration('24h'),
        'in-use': duration('24h'),
        used: duration('1h'),
        hold: duration('7d'),
      })
      .prefault({}),
    labels: z.array(label).min(1),
    providers: z.array(provider).min(1),
    targets: z.array(target).default([]),
    jobs: z.array(job).default([]),
  });

export type Config = z.output<typeof configSchema>;
export type ProviderConfig = Config['providers'][number];
export type ProviderImageConfig = ProviderConfig['images'][number];
export type LabelConfig = Config['labels'][number];
export type TargetConfig = Config['targets'][number];
export type JobConfig = Config['jobs'][number];

// loadConfig(path) and parseConfig(text, file): see the loader below (filled in by the config work).
