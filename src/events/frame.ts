// Frames of the Jenkins ZMQ event publisher plugin (openstack-infra/zmq-event-publisher): ONE
// frame "<topic> <json>", topic onStarted, onCompleted or onFinalized, the JSON
// {name, url, build: {full_url, number, phase, status, url, node_name, node_description,
// host_name, parameters}}. The plugin serialises with Gson, which omits null fields: `status` is
// absent on onStarted and `parameters` for a build without any. Pure: no I/O.

export const BUILD_TOPICS = ['onStarted', 'onCompleted', 'onFinalized'] as const;
export type BuildTopic = (typeof BUILD_TOPICS)[number];

export interface BuildInfo {
  full_url?: string;
  number: number;
  /** STARTED, COMPLETED or FINISHED (the plugin's Phase enum); key on the topic instead. */
  phase?: string;
  /** SUCCESS, FAILURE, ABORTED, UNSTABLE, ...; absent until the build has a result. */
  status?: string | null;
  url?: string;
  /** The agent the build ran on: our node's hostname ("" or "master" for the built-in node). */
  node_name: string;
  node_description?: string;
  host_name?: string;
  parameters?: Record<string, unknown>;
}

export interface BuildEvent {
  topic: BuildTopic;
  /** Job name. */
  name: string;
  /** Job URL relative to the master's root. */
  url?: string;
  build: BuildInfo;
}

export type FrameProblem = 'garbage' | 'unknown-topic' | 'not-json' | 'missing-field';

export type FrameResult = { ok: true; event: BuildEvent } | { ok: false; reason: FrameProblem; detail: string };

const TOPICS: ReadonlySet<string> = new Set(BUILD_TOPICS);
/** A topic is one word of letters; anything else before the first space is not a frame. */
const TOPIC_SHAPE = /^[A-Za-z][A-Za-z0-9_]*$/;

function bad(reason: FrameProblem, detail: string): FrameResult {
  return { ok: false, reason, detail };
}

function preview(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseFrame(frame: Buffer | string): FrameResult {
  let text: string;
  if (typeof frame === 'string') text = frame;
  else {
    // Fatal decoding: bytes that are not UTF-8 are garbage, not a frame with odd characters.
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(frame);
    } catch {
      return bad('garbage', `${frame.length} bytes that are not UTF-8`);
    }
  }
  const space = text.indexOf(' ');
  if (space <= 0) return bad('garbage', `no "<topic> <json>" shape: ${preview(text)}`);
  const topic = text.slice(0, space);
  if (!TOPIC_SHAPE.test(topic)) return bad('garbage', `no "<topic> <json>" shape: ${preview(text)}`);
  if (!TOPICS.has(topic)) return bad('unknown-topic', `topic ${preview(topic)}`);

  const body = text.slice(space + 1);
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    return bad('not-json', `${(err as Error).message}: ${preview(body)}`);
  }
  if (!isObject(value)) return bad('not-json', `expected a JSON object, got ${preview(body)}`);

  if (typeof value.name !== 'string' || value.name === '') return bad('missing-field', 'name (a non-empty string)');
  if (!isObject(value.build)) return bad('missing-field', 'build (an object)');
  const b = value.build;
  if (typeof b.number !== 'number' || !Number.isInteger(b.number)) return bad('missing-field', 'build.number (an integer)');
  if (typeof b.node_name !== 'string') return bad('missing-field', 'build.node_name (a string)');

  const build: BuildInfo = { number: b.number, node_name: b.node_name };
  for (const key of ['full_url', 'phase', 'url', 'node_description', 'host_name'] as const) {
    if (typeof b[key] === 'string') build[key] = b[key];
  }
  if (typeof b.status === 'string' || b.status === null) build.status = b.status;
  if (isObject(b.parameters)) build.parameters = { ...b.parameters };

  const event: BuildEvent = { topic: topic as BuildTopic, name: value.name, build };
  if (typeof value.url === 'string') event.url = value.url;
  return { ok: true, event };
}
