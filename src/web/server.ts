// Operators' HTTP endpoints: Prometheus /metrics, /health, /ready, a JSON API (records of
// views.ts, the same the CLI's --json prints), the original Nodepool's text paths (/node-list,
// /image-list, /label-list: the CLI's tables, JSON with `Accept: application/json`), and hold and
// delete of a node by bearer token (web.token in the config; without one they are refused).
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Daemon } from '../daemon.js';
import { parseDuration } from '../duration.js';
import type { NodeRecord } from '../model.js';
import { holdNode, markForDeletion, OperatorActionError } from '../operator-actions.js';
import { markImageForDeletion, requestImageUpdate } from '../image-actions.js';
import { imageTable } from '../cli/commands/image-list.js';
import { labelTable } from '../cli/commands/label-list.js';
import { nodeTable } from '../cli/commands/list.js';
import { labelView, providerView, statusView } from '../views.js';
import { packageVersion } from '../version.js';
import { DEFAULT_HISTORY_INTERVAL_MS, DEFAULT_HISTORY_SPAN_MS, History, sampleOf } from './history.js';
import { STATUS_PAGE_HTML } from './status-page.js';

export interface WebServer {
  url: string;
  close(): Promise<void>;
}

type Method = 'GET' | 'POST' | 'DELETE';

interface Reply {
  status: number;
  body: unknown;
  /** Text instead of JSON. */
  type?: string;
  headers?: Record<string, string>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const MAX_BODY = 64 * 1024;

function wantsJson(req: IncomingMessage): boolean {
  return /\bapplication\/json\b/i.test(req.headers.accept ?? '');
}

function sameSecret(given: string, want: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** 403 when no token is configured, 401 when the request's bearer token is missing or wrong. */
function authorize(daemon: Daemon, req: IncomingMessage): void {
  const token = daemon.config().web.token;
  if (!token) throw new HttpError(403, 'changes through the web API are off: no web.token in the config');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!m || !sameSecret(m[1], token)) throw new HttpError(401, 'missing or wrong bearer token', { 'www-authenticate': 'Bearer' });
}

async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, 'request body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'request body is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'request body must be a JSON object');
  return body as Record<string, unknown>;
}

async function getNode(daemon: Daemon, id: number): Promise<NodeRecord> {
  const node = await daemon.store.getNode(id);
  if (!node) throw new HttpError(404, `node ${id} not found`);
  return node;
}

/** An operator action's refusal as the HTTP status it means. */
async function asHttp<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof OperatorActionError) throw new HttpError(err.reason === 'not-found' ? 404 : 409, err.message);
    throw err;
  }
}

/** As `nodepool hold ID [--reason T] [--expire D]` does; body `{ reason?, expire? }` (expire a duration, e.g. "2h"). */
async function holdNodeRequest(daemon: Daemon, id: number, body: Record<string, unknown>): Promise<NodeRecord> {
  const { reason, expire } = body;
  if (reason !== undefined && (typeof reason !== 'string' || !reason.trim())) throw new HttpError(400, 'reason must be a non-empty string');
  let expireMs: number | null = null;
  if (expire !== undefined) {
    expireMs = typeof expire === 'string' || typeof expire === 'number' ? parseDuration(expire) : null;
    if (expireMs === null) throw new HttpError(400, 'expire must be a duration, e.g. "2h" or "1d"');
  }
  const held = await asHttp(holdNode(daemon.store, id, { reason: reason as string | undefined, expireMs, now: daemon.clock.now() }));
  daemon.storeWritten();
  return held;
}

/** As `nodepool delete ID` does: the node goes to deleting and the daemon's deleter takes it. */
async function deleteNodeRequest(daemon: Daemon, id: number): Promise<NodeRecord> {
  const deleting = await asHttp(markForDeletion(daemon.store, id));
  daemon.storeWritten();
  return deleting;
}

function nodeId(text: string): number {
  const id = Number(text);
  if (!Number.isSafeInteger(id) || id <= 0) throw new HttpError(404, 'not found');
  return id;
}

type Handler = (req: IncomingMessage, params: string[]) => Promise<Reply>;

export interface WebServerOptions {
  host: string;
  port: number;
  /** How often the status page's history takes a sample (default 30 s) and how far back it keeps them (1 h). */
  historyIntervalMs?: number;
  historySpanMs?: number;
}

/** Node events shown on the status page: the newest audit rows (newest first), and launch failures. */
const EVENT_ROWS = 50;
const FAILURE_ROWS = 20;

export async function startWebServer(daemon: Daemon, opts: WebServerOptions): Promise<WebServer> {
  const historyIntervalMs = opts.historyIntervalMs ?? DEFAULT_HISTORY_INTERVAL_MS;
  const historySpanMs = opts.historySpanMs ?? DEFAULT_HISTORY_SPAN_MS;
  const history = new History(Math.ceil(historySpanMs / historyIntervalMs) + 1);
  const sample = () =>
    daemon.metrics
      .refresh()
      .then((snap) => snap && history.add(sampleOf(snap)))
      .catch((err: unknown) => daemon.log.warn({ err }, 'status page history sample failed'));
  void sample();
  // Sampling is for the page only: it must not keep a stopping process alive.
  const sampler = setInterval(() => void sample(), historyIntervalMs).unref();
  const json = (body: unknown, status = 200): Reply => ({ status, body });
  const text = (req: IncomingMessage, body: string, asJson: () => unknown): Reply =>
    wantsJson(req) ? json(asJson()) : { status: 200, body, type: 'text/plain; charset=utf-8' };
  const labels = async () => labelView(daemon.config(), await daemon.store.listNodes(), daemon.poolView());

  const routes: { path: RegExp; methods: Partial<Record<Method, Handler>> }[] = [
    { path: /^\/$/, methods: { GET: async () => ({ status: 200, body: STATUS_PAGE_HTML, type: 'text/html; charset=utf-8' }) } },
    // The status page's data: labels, providers, node counts and images from one store read (views.ts poolSnapshot).
    { path: /^\/api\/pool$/, methods: { GET: async () => json(await daemon.metrics.refresh()) } },
    { path: /^\/api\/history$/, methods: { GET: async () => json({ now: daemon.clock.now(), intervalMs: historyIntervalMs, spanMs: historySpanMs, samples: history.list() }) } },
    {
      path: /^\/api\/events$/,
      methods: {
        GET: async () => {
          const [audit, failures, nodes] = await Promise.all([daemon.store.audit({ kind: 'node', limit: EVENT_ROWS }), daemon.store.listLaunchFailures({ limit: FAILURE_ROWS }), daemon.store.listNodes()]);
          const byId = new Map(nodes.map((n) => [n.id, n]));
          const events = audit.reverse().map((a) => ({ ...a, hostname: byId.get(a.objectId)?.hostname ?? null, label: byId.get(a.objectId)?.label ?? null }));
          return json({ events, failures });
        },
      },
    },
    {
      path: /^\/metrics$/,
      methods: { GET: async () => ({ status: 200, body: await daemon.metrics.scrape(), type: daemon.metrics.contentType }) },
    },
    // 503 with the reasons when a cloud or the store is unusable: a load balancer or probe can act on it.
    {
      path: /^\/health$/,
      methods: {
        GET: async () => {
          const health = await daemon.healthCheck();
          return json(health, health.ok ? 200 : 503);
        },
      },
    },
    // 200 once every cloud has been reconciled since start (launches may begin), else 503.
    {
      path: /^\/ready$/,
      methods: {
        GET: async () => {
          const waiting = Object.entries(daemon.poolView().providers)
            .filter(([, p]) => !p.reconciled)
            .map(([name]) => name);
          return json({ ready: waiting.length === 0, waiting }, waiting.length ? 503 : 200);
        },
      },
    },
    { path: /^\/api\/nodes$/, methods: { GET: async () => json(await daemon.store.listNodes()) } },
    {
      path: /^\/api\/nodes\/([^/]+)$/,
      methods: {
        GET: async (_req, [id]) => json(await getNode(daemon, nodeId(id))),
        DELETE: async (req, [id]) => {
          authorize(daemon, req);
          return json(await deleteNodeRequest(daemon, nodeId(id)));
        },
      },
    },
    {
      path: /^\/api\/nodes\/([^/]+)\/hold$/,
      methods: {
        POST: async (req, [id]) => {
          authorize(daemon, req);
          return json(await holdNodeRequest(daemon, nodeId(id), await readJsonBody(req)));
        },
      },
    },
    { path: /^\/api\/images$/, methods: { GET: async () => json(await daemon.store.listImages()) } },
    // As `nodepool image-delete ID`: the builder deletes it from the cloud; the previous image becomes current.
    {
      path: /^\/api\/images\/([^/]+)$/,
      methods: {
        DELETE: async (req, [id]) => {
          authorize(daemon, req);
          const row = await asHttp(markImageForDeletion(daemon.store, nodeId(id)));
          daemon.storeWritten();
          return json(row);
        },
      },
    },
    // As `nodepool image-update PROVIDER IMAGE` (PROVIDER may be "all"): one build request per provider.
    {
      path: /^\/api\/images\/([^/]+)\/([^/]+)\/update$/,
      methods: {
        POST: async (req, [provider, image]) => {
          authorize(daemon, req);
          const requests = await asHttp(requestImageUpdate(daemon.store, daemon.config(), decodeURIComponent(provider), decodeURIComponent(image)));
          daemon.storeWritten();
          return json(requests);
        },
      },
    },
    { path: /^\/api\/labels$/, methods: { GET: async () => json(await labels()) } },
    { path: /^\/api\/providers$/, methods: { GET: async () => json(providerView(daemon.config(), await daemon.store.listNodes(), daemon.poolView())) } },
    {
      path: /^\/api\/status$/,
      methods: {
        GET: async () => {
          const [nodes, images] = await Promise.all([daemon.store.listNodes(), daemon.store.listImages()]);
          return json(statusView({ cfg: daemon.config(), nodes, images, deploymentId: daemon.deploymentId, version: packageVersion(), nodeVersion: process.version, live: daemon.poolView() }));
        },
      },
    },
    // The original Nodepool's paths: the CLI's table, or its --json with Accept: application/json.
    {
      path: /^\/node-list$/,
      methods: {
        GET: async (req) => {
          const nodes = await daemon.store.listNodes();
          return text(req, nodeTable(nodes, daemon.clock.now()), () => nodes);
        },
      },
    },
    {
      path: /^\/image-list$/,
      methods: {
        GET: async (req) => {
          const images = await daemon.store.listImages();
          return text(req, imageTable(images, daemon.clock.now()), () => images);
        },
      },
    },
    {
      path: /^\/label-list$/,
      methods: {
        GET: async (req) => {
          const view = await labels();
          return text(req, labelTable(view), () => view);
        },
      },
    },
  ];

  const respond = async (req: IncomingMessage): Promise<Reply> => {
    const path = (req.url ?? '/').split('?')[0];
    for (const route of routes) {
      const m = route.path.exec(path);
      if (!m) continue;
      const method = (req.method === 'HEAD' ? 'GET' : req.method) as Method;
      const handler = route.methods[method];
      if (!handler) {
        const allow = Object.keys(route.methods).flatMap((k) => (k === 'GET' ? ['GET', 'HEAD'] : [k]));
        throw new HttpError(405, `method ${req.method} not allowed`, { allow: allow.join(', ') });
      }
      return handler(req, m.slice(1));
    }
    throw new HttpError(404, 'not found');
  };

  const send = (req: IncomingMessage, res: ServerResponse, reply: Reply) => {
    const body = reply.type ? String(reply.body) : JSON.stringify(reply.body);
    res.writeHead(reply.status, { 'content-type': reply.type ?? 'application/json', ...reply.headers });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const server: Server = createServer((req, res) => {
    respond(req)
      .catch((err: unknown): Reply => {
        if (err instanceof HttpError) return { status: err.status, body: { error: err.message }, headers: err.headers };
        // The request (and its Authorization header) is never logged.
        daemon.log.warn({ err, method: req.method, path: (req.url ?? '/').split('?')[0] }, 'web request failed');
        return { status: 500, body: { error: err instanceof Error ? err.message : String(err) } };
      })
      .then((reply) => send(req, res, reply))
      .catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(opts.port, opts.host, resolve));
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | null = null;
  return {
    url: `http://${opts.host}:${port}`,
    close: () =>
      (closed ??= new Promise((resolve) => {
        clearInterval(sampler);
        server.close(() => resolve());
        // Idle keep-alive connections (a browser's) would hold close() open.
        server.closeIdleConnections();
      })),
  };
}
