import { describe, expect, it } from 'vitest';
import { decideTargetRepair, type MasterNodeView } from '../../src/target-reconcile.js';

const view = (v: Partial<MasterNodeView>): MasterNodeView => ({ present: true, busy: false, offline: false, ...v });
const decide = (state: string, v: Partial<MasterNodeView>, stateAgeMs = 60_000) => decideTargetRepair({ state, view: view(v), stateAgeMs, graceMs: 30_000 }).action;

describe('decideTargetRepair', () => {
  it('a ready node the master is building on is in use (onStarted lost); one the master lost is deleted', () => {
    expect(decide('ready', { busy: true })).toBe('in-use');
    expect(decide('ready', { present: false })).toBe('delete');
    expect(decide('ready', {})).toBe('none');
  });

  it('an in-use node idle and offline after its build, or gone from the master, is used (onFinalized lost)', () => {
    expect(decide('in-use', { offline: true })).toBe('used');
    expect(decide('in-use', { present: false })).toBe('used');
    expect(decide('in-use', { busy: true, offline: true })).toBe('none');
    // Online and idle: not ours to judge (the build may not have been handed over yet).
    expect(decide('in-use', {})).toBe('none');
  });

  it('does not judge an in-use node within the grace after its state change', () => {
    expect(decide('in-use', { offline: true }, 10_000)).toBe('none');
    expect(decide('in-use', { present: false }, 10_000)).toBe('none');
  });

  it('leaves other states to the deleter and the operator', () => {
    for (const state of ['building', 'used', 'hold', 'deleting']) expect(decide(state, { present: false, busy: true })).toBe('none');
  });
});
