// Glance v2 images: list (limit/marker, `next` link, name/status/visibility filters), show,
// delete. Errors come as webob renders them: HTML, JSON or plain text by the Accept header.
import { isoSeconds, type Reply, type Req } from './http.js';
import type { Cloud, ImageRec } from './cloud.js';
import type { TokenInfo } from './keystone.js';
import type { Route } from './router.js';

export interface GlanceCtx {
  req: Req;
  params: string[];
  token: TokenInfo;
  projectId: string;
}

export type GlanceHandler = (ctx: GlanceCtx) => Reply;

const DEFAULT_LIMIT = 25;
const MAX_LIMIT = 1000;

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  429: 'Too Many Requests',
};

/** A webob HTTPException body, in the representation the client's Accept header picks. */
export function glanceError(req: Req | null, code: number, explanation: string): Reply {
  const title = TITLES[code] ?? 'Error';
  const status = `${code} ${title}`;
  const accept = String(req?.headers.accept ?? '');
  const wantsJson = accept.includes('application/json') && !accept.includes('text/html');
  if (wantsJson) {
    return { status: code, body: { message: `${explanation}<br /><br />\n\n\n`, code: status, title } };
  }
  if (accept.includes('text/plain') && !accept.includes('text/html') && !accept.includes('*/*')) {
    return { status: code, body: `${status}\n\n${explanation}\n\n   ` };
  }
  const html =
    `<html>\n <head>\n  <title>${status}</title>\n </head>\n <body>\n  <h1>${status}</h1>\n` +
    `  ${escapeHtml(explanation)}<br /><br />\n\n\n\n </body>\n</html>`;
  return { status: code, headers: { 'Content-Type': 'text/html; charset=UTF-8' }, body: html };
}

export class Glance {
  readonly routes: Route<GlanceHandler>[] = [
    { method: 'GET', template: '/', handler: () => this.versions() },
    { method: 'GET', template: '/versions', handler: () => this.versions(200) },
    { method: 'GET', template: '/v2/images', handler: (c) => this.list(c) },
    { method: 'GET', template: '/v2/images/{id}', handler: (c) => this.show(c) },
    { method: 'DELETE', template: '/v2/images/{id}', handler: (c) => this.remove(c) },
  ];

  constructor(
    private readonly cloud: Cloud,
    private readonly imageUrl: () => string,
  ) {}

  private versions(status = 300): Reply {
    return {
      status,
      body: {
        versions: [
          {
            id: 'v2.16',
            status: 'CURRENT',
            links: [{ rel: 'self', href: `${this.imageUrl()}/v2/` }],
          },
        ],
      },
    };
  }

  private visible(img: ImageRec, projectId: string): boolean {
    return img.visibility === 'public' || img.visibility === 'community' || img.owner === projectId;
  }

  private list(ctx: GlanceCtx): Reply {
    const q = ctx.req.url.searchParams;
    let limit = DEFAULT_LIMIT;
    const rawLimit = q.get('limit');
    if (rawLimit !== null) {
      if (!/^\d+$/.test(rawLimit)) return glanceError(ctx.req, 400, 'limit param must be an integer');
      limit = Math.min(Number(rawLimit), MAX_LIMIT);
    }
    const all = [...this.cloud.images.values()]
      .filter((i) => this.visible(i, ctx.projectId))
      .sort((a, b) => b.created - a.created || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));

    let start = 0;
    const marker = q.get('marker');
    if (marker !== null) {
      const i = all.findIndex((img) => img.id === marker);
      if (i < 0) return glanceError(ctx.req, 400, `Invalid marker. Image ${marker} could not be found.`);
      start = i + 1;
    }
    const name = q.get('name');
    const status = q.get('status');
    const visibility = q.get('visibility');
    const items = all
      .slice(start)
      .filter((i) => (name === null || i.name === name) && (status === null || i.status === status))
      .filter((i) => visibility === null || visibility === 'all' || i.visibility === visibility)
      .slice(0, limit);

    const params = new URLSearchParams(q);
    params.delete('marker');
    const query = params.toString();
    const body: Record<string, unknown> = {
      images: items.map((i) => this.view(i)),
      schema: '/v2/schemas/images',
      first: query ? `/v2/images?${query}` : '/v2/images',
    };
    const broken = this.cloud.brokenPagination;
    if (marker !== null && broken === 'page-404') return glanceError(ctx.req, 404, 'The resource could not be found.');
    if (marker !== null && broken === 'page-503') return glanceError(ctx.req, 503, 'The server is currently unavailable.');
    if (broken === 'repeat-marker' && marker !== null) {
      params.set('marker', marker);
      body.next = `/v2/images?${params.toString()}`;
    } else if (items.length !== 0 && items.length === limit) {
      params.set('marker', items[items.length - 1].id);
      body.next = `/v2/images?${params.toString()}`;
    }
    return { status: 200, body };
  }

  private find(ctx: GlanceCtx): ImageRec | Reply {
    const id = ctx.params[0];
    const img = this.cloud.images.get(id);
    if (!img || !this.visible(img, ctx.projectId)) return glanceError(ctx.req, 404, `No image found with ID ${id}`);
    return img;
  }

  private show(ctx: GlanceCtx): Reply {
    const img = this.find(ctx);
    if (!('id' in img)) return img;
    return { status: 200, body: this.view(img) };
  }

  private remove(ctx: GlanceCtx): Reply {
    const img = this.find(ctx);
    if (!('id' in img)) return img;
    if (img.owner !== ctx.projectId) return glanceError(ctx.req, 403, 'You are not permitted to delete this image.');
    this.cloud.images.delete(img.id);
    this.cloud.events.onImageDeleted?.(img);
    return { status: 204 };
  }

  private view(i: ImageRec): Record<string, unknown> {
    const hasData = i.status === 'active';
    return {
      ...i.properties,
      id: i.id,
      name: i.name,
      status: i.status,
      visibility: i.visibility,
      protected: false,
      os_hidden: false,
      tags: [],
      container_format: 'bare',
      disk_format: 'qcow2',
      min_ram: i.minRamMb,
      min_disk: i.minDiskGb,
      size: hasData ? (i.size ?? 1073741824) : null,
      virtual_size: null,
      checksum: hasData ? i.id.replace(/-/g, '') : null,
      os_hash_algo: hasData ? 'sha512' : null,
      os_hash_value: hasData ? i.id.replace(/-/g, '').repeat(4) : null,
      owner: i.owner,
      created_at: isoSeconds(i.created),
      updated_at: isoSeconds(i.updated),
      self: `/v2/images/${i.id}`,
      file: `/v2/images/${i.id}/file`,
      schema: '/v2/schemas/image',
    };
  }
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
