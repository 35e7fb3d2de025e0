// Glance (image API v2) over the Keystone session: list (all pages), show, delete.
import { IncompleteListError } from '../../src/errors.js';
import type { CloudImage } from '../provider.js';
import { incompleteList } from './nova.js';
import type { KeystoneSession } from './keystone.js';

export interface GlanceImage {
  id: string;
  name?: string | null;
  status?: string;
  created_at?: string;
  [property: string]: unknown;
}

/** Fields of the image schema; every other string field is a user property (our metadata). */
const CORE_FIELDS = new Set([
  'id', 'name', 'status', 'visibility', 'protected', 'checksum', 'os_hash_algo', 'os_hash_value', 'owner',
  'size', 'virtual_size', 'min_ram', 'min_disk', 'container_format', 'disk_format', 'created_at', 'updated_at',
  'tags', 'direct_url', 'locations', 'self', 'file', 'schema', 'os_hidden', 'stores',
]);

export function mapImageStatus(status: string | undefined): CloudImage['status'] {
  switch (status) {
    case 'queued':
    case 'saving':
    case 'uploading':
    case 'importing':
      return 'building';
    case 'active':
      return 'active';
    case 'killed':
      return 'error';
    case 'deleted':
    case 'pending_delete':
      return 'deleting';
    default:
      return 'other';
  }
}

export function toCloudImage(img: GlanceImage): CloudImage {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(img)) {
    if (!CORE_FIELDS.has(k) && typeof v === 'string') metadata[k] = v;
  }
  const created = Date.parse(img.created_at ?? '');
  return {
    id: img.id,
    name: img.name ?? '',
    status: mapImageStatus(img.status),
    metadata,
    created: Number.isNaN(created) ? 0 : created,
  };
}

export class GlanceClient {
  constructor(
    private readonly session: KeystoneSession,
    private readonly opts: { pageSize?: number } = {},
  ) {}

  // Catalogs list Glance with or without the version; our paths carry it.
  private async base(): Promise<string> {
    return (await this.session.endpoint('image')).replace(/\/v2(\.\d+)?$/, '');
  }

  /** Every image visible to the project, following `next` until the last page. */
  async listImages(): Promise<GlanceImage[]> {
    const base = await this.base();
    const out: GlanceImage[] = [];
    const seen = new Set<string>();
    let query = this.opts.pageSize ? `?limit=${this.opts.pageSize}` : '';
    for (let page = 1; ; page++) {
      const res = await this.session
        .request<{ images?: GlanceImage[]; next?: string }>('image', `${base}/v2/images${query}`, { method: 'GET' })
        .catch((err: unknown) => {
          throw page === 1 ? err : incompleteList('GET /v2/images', page, out.length, err);
        });
      out.push(...(res.body?.images ?? []));
      const next = res.body?.next;
      if (!next) return out;
      // `next` is relative to the API root ("/v2/images?marker=..."); keep only its query.
      const q = new URL(next, 'http://link.invalid').search;
      if (q.length <= 1) return out;
      if (seen.has(q)) {
        throw new IncompleteListError(`GET /v2/images: page ${page} links back to an earlier page (${q}); the list is incomplete after ${out.length} items`);
      }
      seen.add(q);
      query = q;
    }
  }

  async getImage(id: string): Promise<GlanceImage> {
    const base = await this.base();
    const res = await this.session.request<GlanceImage>('image', `${base}/v2/images/${encodeURIComponent(id)}`, { method: 'GET' });
    return res.body;
  }

  async deleteImage(id: string): Promise<void> {
    const base = await this.base();
    await this.session.request('image', `${base}/v2/images/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }
}
