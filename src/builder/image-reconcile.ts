// Pure decisions for what image bakes leave in a cloud: snapshots (cloud images) and template or
// test servers carrying our image metadata. A resource is owned while a bake runs for its row,
// or (images) while its row is building, ready or deleting and points at it. Anything else of
// ours is a suspect on the first pass and leaked on the second, as with servers (reconcile.ts).
// Artifacts (storage an image is made of, EC2's snapshots) are owned while an image uses them or
// while their row's bake runs, is building (recovery deletes it) or is being deleted (the delete
// is retried); one left when its image went (a DeleteSnapshot that failed after DeregisterImage,
// a crash between the two) is judged the same way.
import { META_DEPLOYMENT, META_IMAGE_ID, META_OWNER, META_PROVIDER, OWNER, type ImageRecord } from '../model.js';
import type { CloudImage, CloudServer, ImageArtifact } from '../../providers/provider.js';

export interface ImageReconcileInput {
  provider: string;
  deploymentId: string;
  /** This provider's image rows. */
  rows: readonly ImageRecord[];
  images: readonly CloudImage[];
  servers: readonly CloudServer[];
  /** The driver's image artifacts (listImageArtifacts); absent: none. */
  artifacts?: readonly ImageArtifact[];
  /** Image rows a bake is running for: they own whatever carries their id. */
  baking: ReadonlySet<number>;
  /** Keys (`image:ID`, `server:ID`, `artifact:ID`) judged leaked on the previous pass. */
  suspects: ReadonlySet<string>;
}

export interface ImageReconcileActions {
  leakedImages: CloudImage[];
  leakedServers: CloudServer[];
  leakedArtifacts: ImageArtifact[];
  suspects: Set<string>;
}

function ours(metadata: Record<string, string>, deploymentId: string, provider: string): boolean {
  return metadata[META_OWNER] === OWNER && metadata[META_DEPLOYMENT] === deploymentId && metadata[META_PROVIDER] === provider && metadata[META_IMAGE_ID] !== undefined;
}

export function reconcileImages(input: ImageReconcileInput): ImageReconcileActions {
  const out: ImageReconcileActions = { leakedImages: [], leakedServers: [], leakedArtifacts: [], suspects: new Set() };
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
  for (const artifact of input.artifacts ?? []) {
    if (!ours(artifact.metadata, input.deploymentId, input.provider)) continue;
    const row = rows.get(artifact.metadata[META_IMAGE_ID]);
    const owned = artifact.usedBy.length > 0 || (row !== undefined && (input.baking.has(row.id) || row.state === 'building' || row.state === 'deleting'));
    judge(`artifact:${artifact.id}`, artifact, owned, out.leakedArtifacts);
  }
  return out;
}
