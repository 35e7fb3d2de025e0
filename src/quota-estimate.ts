// What a cloud lets us hold, from its quota and what others use there: instances, cores and RAM
// in total (ours included). The planner turns cores and RAM into servers per label's flavor.
// Over-quota answers shrink the instance estimate until the next refresh.
import type { Quota } from '../providers/provider.js';

export interface QuotaLimits {
  /** null = unlimited or unknown. */
  instances: number | null;
  cores: number | null;
  ramMb: number | null;
}

/** A server of ours at the time of the quota reading, with its flavor's size if known. */
export interface OurServerSize {
  vcpus: number;
  ramMb: number;
}

export class QuotaEstimate {
  private current: QuotaLimits = { instances: null, cores: null, ramMb: null };

  /** Recomputes from a fresh quota reading and the servers of ours the cloud listed at that time. */
  update(quota: Quota, ours: readonly (OurServerSize | undefined)[]): void {
    const sum = (pick: (s: OurServerSize) => number) => ours.reduce((n, s) => n + (s ? pick(s) : 0), 0);
    // Total we may hold = the maximum minus what others use (usage counts ours too).
    const total = (max: number | null, used: number, oursUsed: number) => (max === null ? null : Math.max(0, max - Math.max(0, used - oursUsed)));
    this.current = {
      instances: total(quota.maxInstances, quota.usedInstances, ours.length),
      cores: total(quota.maxCores, quota.usedCores, sum((s) => s.vcpus)),
      ramMb: total(quota.maxRamMb, quota.usedRamMb, sum((s) => s.ramMb)),
    };
  }

  /** The cloud refused a create while we held `held` servers there: that is the real limit for now. */
  shrinkTo(held: number): void {
    const instances = this.current.instances;
    this.current = { ...this.current, instances: instances === null ? held : Math.min(instances, held) };
  }

  /** Instances we may hold in total. */
  cloudLimit(): number | null {
    return this.current.instances;
  }

  limits(): QuotaLimits {
    return { ...this.current };
  }
}
