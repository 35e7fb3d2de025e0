import { describe, expect, it } from 'vitest';
import { reconcileImages, type ImageReconcileInput } from '../../src/builder/image-reconcile.js';
import type { ImageRecord } from '../../src/model.js';
import type { CloudImage, CloudServer } from '../../providers/provider.js';

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
    expect(r).toEqual({ leakedImages: [], leakedServers: [], suspects: new Set() });
  });
});
