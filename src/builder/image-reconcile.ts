// Pure decisions for what image bakes leave in a cloud: snapshots (cloud images) and template or
// test servers carrying our image metadata. A resource is owned while a bake runs for its row,
// or (images) while its row is building, ready or deleting and points at it. Anything else of
// ours is a suspect on the first pass and leaked on the second, as with servers (reconcile.ts).
import { META_DEPLOYMENT, META_IMAGE_ID, META_OWNER, META_PROVIDER, OWNER, type ImageRecord } from '../model.js';
import type { CloudImage, CloudServer } from '../../providers/provider.js';

export interface ImageReconcileInput {
  provider: string;
  deploymentId: string;
  /** This provider's image rows. */
  rows: readonly ImageRecord[];
  images: readonly CloudImage[];
  servers: readonly CloudServer[];
  /** Image rows a bake is running for: they own whatever carries their id. */
  baking: ReadonlySet<number>;
  /** Keys (`image:ID`, `server:ID`) judged leaked on the previous pass. */
  suspects: ReadonlySet<string>;
}

export interface ImageReconcileActions {
  leakedImages: CloudImage[];
  leakedServers: CloudServer[];
  suspects: Set<string>;
}

function ours(metadata: Record<string, string>, deploymentId: string, provider: string): boolean {
  return metadata[META_OWNER] === OWNER && metadata[META_DEPLOYMENT] === deploymentId && metadata[META_PROVIDER] === provider && metadata[META_IMAGE_ID] !== undefined;
}

export function reconcileImages(input: ImageReconcileInput): ImageReconcileActions {
  const out: ImageReconcileActions = { leakedImages: [], leakedServers: [], suspects: new Set() };
  const rows = new Map(input.rows.map((r) => [String(r.id), r]));
  const judge = <T extends { id: string }>(key: string, thing: T, owned: boolean, leaked: T[]) => {
    if (owned) return;
    if (input.suspects.has(key)) leaked.push(thing);
    else out.suspects.add(key);
  };
  for (const image of input.images) {
    if (image.status === 'deleting' || !ours(image.metadata, input.deploymentId, input.provider)) continue;
    const row = rows.get(image.metadata[META_IMAGE_ID]);
    const owned = row !== undefined && (input.baking.has(row.id) || (row.externalId === image.id && row.state !== 'failed'));
    judge(`image:${image.id}`, image, owned, out.leakedImages);
  }
  for (const server of input.servers) {
    if (server.status === 'deleting' || !ours(server.metadata, input.deploymentId, input.provider)) continue;
    const row = rows.get(server.metadata[META_IMAGE_ID]);
    judge(`server:${server.id}`, server, row !== undefined && input.baking.has(row.id), out.leakedServers);
  }
  return out;
}
