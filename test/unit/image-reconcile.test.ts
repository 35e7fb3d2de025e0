import { describe, expect, it } from 'vitest';
import { reconcileImages, type ImageReconcileInput } from '../../src/builder/image-reconcile.js';
import type { ImageRecord } from '../../src/model.js';
import type { CloudImage, CloudServer, ImageArtifact } from '../../providers/provider.js';

const meta = (rowId: number, extra: Record<string, string> = {}) => ({
  nodepool_owner: 'nodepool-ts', nodepool_deployment: 'dep', nodepool_provider: 'p', nodepool_image_id: String(rowId), ...extra,
});
const row = (id: number, state: ImageRecord['state'], externalId: string | null): ImageRecord => ({
  id, provider: 'p', image: 'ubuntu', version: 'v', externalId, state, stateTime: 0, created: 0, hostname: null, serverId: null, reason: null, step: null,
});
const image = (id: string, metadata: Record<string, string>, status: CloudImage['status'] = 'active'): CloudImage => ({ id, name: id, status, metadata, created: 0 });
const server = (id: string, metadata: Record<string, string>): CloudServer => ({ id, name: id, status: 'active', rawStatus: 'ACTIVE', ip: null, az: null, fault: null, created: 0, metadata });

function input(over: Partial<ImageReconcileInput>): ImageReconcileInput {
  return { provider: 'p', deploymentId: 'dep', rows: [], images: [], servers: [], baking: new Set(), suspects: new Set(), ...over };
}

describe('reconcileImages', () => {
  it('keeps images whose row points at them and images of a running bake; others are suspects, then leaked', () => {
    const rows = [row(1, 'ready', 'img-1'), row(2, 'building', null), row(3, 'failed', 'img-3')];
    const images = [image('img-1', meta(1)), image('img-2', meta(2)), image('img-3', meta(3)), image('img-9', meta(9)), image('public', {})];
    const first = reconcileImages(input({ rows, images, baking: new Set([2]) }));
    expect(first.leakedImages).toEqual([]);
    expect([...first.suspects]).toEqual(['image:img-3', 'image:img-9']);
    const second = reconcileImages(input({ rows, images, baking: new Set([2]), suspects: first.suspects }));
    expect(second.leakedImages.map((i) => i.id)).toEqual(['img-3', 'img-9']);
  });

  it('a bake server (template or test) is owned only while its bake runs', () => {
    const rows = [row(1, 'building', null), row(2, 'building', null)];
    const servers = [server('tmpl-1', meta(1)), server('tmpl-2', meta(2)), server('node-5', { ...meta(1), nodepool_image_id: undefined as unknown as string })];
    const first = reconcileImages(input({ rows, servers, baking: new Set([1]) }));
    expect([...first.suspects]).toEqual(['server:tmpl-2']);
    expect(reconcileImages(input({ rows, servers, baking: new Set([1]), suspects: first.suspects })).leakedServers.map((s) => s.id)).toEqual(['tmpl-2']);
  });

  it('never judges other deployments, other providers, or resources already deleting', () => {
    const images = [image('a', meta(1, { nodepool_deployment: 'other' })), image('b', meta(1, { nodepool_provider: 'q' })), image('c', meta(7), 'deleting')];
    const r = reconcileImages(input({ images, suspects: new Set(['image:a', 'image:b', 'image:c']) }));
    expect(r).toEqual({ leakedImages: [], leakedServers: [], leakedArtifacts: [], suspects: new Set() });
  });

  it('an artifact (EC2 snapshot) no image uses and no live row owns is a suspect, then leaked', () => {
    const snap = (id: string, metadata: Record<string, string>, usedBy: string[] = []): ImageArtifact => ({ id, kind: 'snapshot', metadata, usedBy, created: 0 });
    const rows = [row(1, 'ready', 'ami-1'), row(2, 'building', null), row(3, 'failed', null), row(4, 'deleting', 'ami-4'), row(5, 'building', null)];
    const artifacts = [
      snap('snap-used', meta(1), ['ami-1']),
      snap('snap-baking', meta(2)),
      snap('snap-failed', meta(3)),
      snap('snap-deleting', meta(4)),
      snap('snap-recovering', meta(5)),
      snap('snap-no-row', meta(9)),
      snap('snap-ready-unused', meta(1)),
      snap('snap-theirs', meta(9, { nodepool_deployment: 'other' })),
      snap('snap-untagged', {}),
    ];
    const first = reconcileImages(input({ rows, artifacts, baking: new Set([2]) }));
    expect(first.leakedArtifacts).toEqual([]);
    expect([...first.suspects]).toEqual(['artifact:snap-failed', 'artifact:snap-no-row', 'artifact:snap-ready-unused']);
    // Seen again: deleted. One an image started using in between is not.
    const again = artifacts.map((a) => (a.id === 'snap-no-row' ? { ...a, usedBy: ['ami-9'] } : a));
    const second = reconcileImages(input({ rows, artifacts: again, baking: new Set([2]), suspects: first.suspects }));
    expect(second.leakedArtifacts.map((a) => a.id)).toEqual(['snap-failed', 'snap-ready-unused']);
    expect([...second.suspects]).toEqual([]);
  });
});
