// How many servers a cloud lets us hold, from its quota and what others use there.
// Over-quota answers shrink the estimate until the next refresh.
import type { CloudServer, Flavor, Quota } from '../providers/provider.js';

export class QuotaEstimate {
  private limit: number | null = null;

  /** Recomputes from a fresh quota reading and the servers of ours the cloud listed at that time. */
  update(quota: Quota, ours: readonly CloudServer[], flavor: Flavor | undefined): void {
    const oursCount = ours.length;
    const limits: number[] = [];
    if (quota.maxInstances !== null) limits.push(quota.maxInstances - Math.max(0, quota.usedInstances - oursCount));
    if (flavor && quota.maxCores !== null && flavor.vcpus > 0) {
      const others = Math.max(0, quota.usedCores - oursCount * flavor.vcpus);
      limits.push(Math.floor((quota.maxCores - others) / flavor.vcpus));
    }
    if (flavor && quota.maxRamMb !== null && flavor.ramMb > 0) {
      const others = Math.max(0, quota.usedRamMb - oursCount * flavor.ramMb);
      limits.push(Math.floor((quota.maxRamMb - others) / flavor.ramMb));
    }
    this.limit = limits.length ? Math.max(0, Math.min(...limits)) : null;
  }

  /** The cloud refused a create while we held `held` servers there: that is the real limit for now. */
  shrinkTo(held: number): void {
    this.limit = this.limit === null ? held : Math.min(this.limit, held);
  }

  cloudLimit(): number | null {
    return this.limit;
  }
}
