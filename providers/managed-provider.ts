// The provider layer the launcher, deleter and cleanup use: any ProviderDriver, plus token
// buckets for its API calls (one from config `rate`, or the cloud's own as the driver declares
// them), retries with backoff, Retry-After, a shared server-list poll, flavor/image caches, a
// pause of a flavor the cloud has no capacity for, and per-operation call counts. Policy lives
// here once for all clouds.
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { systemClock, type Clock } from '../src/clock.js';
import { CapacityError, LaunchError, NotFoundError, QuotaExceededError, RateLimitedError, errorCode } from '../src/errors.js';
import { silentLogger, type Logger } from '../src/log.js';
import { chooseFlavor, type CloudImage, type CloudServer, type CreateServerRequest, type Flavor, type ImageArtifact, type ProviderDriver, type Quota } from './provider.js';
import { cappedRetryAfter, retryPolicy, withRetry, type RetryPolicy } from './retry.js';
import { ServerPoller, type ServerSnapshot } from './server-poller.js';
import { TokenBucket } from './token-bucket.js';

export interface ManagedProviderOptions {
  clock?: Clock;
  log?: Logger;
  /** Seconds between API calls (config `rate`). */
  rateSeconds: number;
  /** Token bucket size (config `rate-burst`). */
  burst: number;
  /** Shared list-servers poll interval while something waits (config `poll-interval`). */
  pollIntervalMs: number;
  retry?: Partial<RetryPolicy>;
  random?: () => number;
  /** Called after every driver call with its outcome ('ok' or the error code) and duration. */
  onApiCall?: (op: string, outcome: string, ms: number) => void;
  /** Called when a call waited for tokens of its buckets (rate, rate-burst, Retry-After), with the wait. */
  onRateLimitWait?: (ms: number) => void;
  /** How long flavor and image lists are reused (default 10 minutes). */
  cacheTtlMs?: number;
  /** How long creates of a flavor wait after the cloud said it has no capacity for it (default 2 minutes). */
  capacityPauseMs?: number;
}

export interface ProviderStats {
  calls: number;
  byOp: Record<string, number>;
  errors: Record<string, number>;
}

/** Raw statuses some clouds report for a server that is gone but still listed. */
const GONE_RAW = new Set(['deleted', 'soft_deleted', 'terminated']);

const DEFAULT_CACHE_TTL_MS = 10 * 60_000;
const DEFAULT_CAPACITY_PAUSE_MS = 2 * 60_000;
/** The one bucket of a driver that declares none (config `rate`, `rate-burst`). */
const DEFAULT_BUCKET = 'default';

class TtlCache<T> {
  private value: { data: T; at: number } | null = null;
  private inflight: Promise<T> | null = null;
  constructor(
    private readonly ttlMs: number,
    private readonly clock: Clock,
    private readonly load: () => Promise<T>,
  ) {}
  /** The cached value while fresh; concurrent misses share one load. */
  get(): Promise<T> {
    if (this.value && this.clock.now() - this.value.at < this.ttlMs) return Promise.resolve(this.value.data);
    return this.refresh();
  }
  /** Whatever is cached, fresh or stale, without waiting; a stale or missing value starts a refresh in the background. */
  peek(): T | undefined {
    if (!this.value || this.clock.now() - this.value.at >= this.ttlMs) this.refresh().catch(() => undefined);
    return this.value?.data;
  }
  refresh(): Promise<T> {
    this.inflight ??= this.load()
      .then((data) => {
        this.set(data);
        return data;
      })
      .finally(() => {
        this.inflight = null;
      });
    return this.inflight;
  }
  set(data: T): void {
    this.value = { data, at: this.clock.now() };
  }
  invalidate(): void {
    this.value = null;
  }
}

export class ManagedProvider {
  readonly name: string;
  private readonly driver: ProviderDriver;
  private readonly clock: Clock;
  private readonly log: Logger;
  /** The cloud's buckets as the driver declares them, else one from config `rate`. */
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly capacityPauseMs: number;
  /** Flavor id -> when creates of it may go out again (the cloud had no capacity). */
  private readonly pausedFlavors = new Map<string, number>();
  private readonly poller: ServerPoller;
  private readonly policy: RetryPolicy;
  private readonly random: () => number;
  private readonly onApiCall?: (op: string, outcome: string, ms: number) => void;
  private readonly onRateLimitWait?: (ms: number) => void;
  private readonly flavors: TtlCache<Flavor[]>;
  private readonly images: TtlCache<CloudImage[]>;
  private readonly closer = new AbortController();
  private closing: Promise<void> | null = null;
  private readonly counts: ProviderStats = { calls: 0, byOp: {}, errors: {} };

  constructor(driver: ProviderDriver, opts: ManagedProviderOptions) {
    this.driver = driver;
    this.name = driver.name;
    // Every call queued in the bucket listens on the close signal: hundreds in a burst of launches.
    setMaxListeners(0, this.closer.signal);
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.log ?? silentLogger).child({ provider: driver.name });
    if (driver.rateLimits) {
      for (const b of driver.rateLimits.buckets) this.buckets.set(b.name, new TokenBucket({ intervalMs: 1000 / b.refillPerSecond, burst: b.burst, clock: this.clock }));
    } else {
      this.buckets.set(DEFAULT_BUCKET, new TokenBucket({ intervalMs: opts.rateSeconds * 1000, burst: opts.burst, clock: this.clock }));
    }
    this.capacityPauseMs = opts.capacityPauseMs ?? DEFAULT_CAPACITY_PAUSE_MS;
    this.policy = retryPolicy(opts.retry);
    this.random = opts.random ?? Math.random;
    this.onApiCall = opts.onApiCall;
    this.onRateLimitWait = opts.onRateLimitWait;
    this.poller = new ServerPoller({
      clock: this.clock,
      log: this.log,
      intervalMs: opts.pollIntervalMs,
      list: (signal) => this.call('listServers', () => this.driver.listServers(), signal),
    });
    const ttl = opts.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
    this.flavors = new TtlCache(ttl, this.clock, () => this.retried('listFlavors', () => this.driver.listFlavors()));
    this.images = new TtlCache(ttl, this.clock, () => this.listImages());
  }

  /**
   * Creates a server. A retryable failure (5xx, network, 429) may still have created it, so
   * before each retry the server list is searched for a server this very request could have
   * created: named `req.name` and carrying every entry of `req.metadata`. Callers put their
   * identity there (deployment id and node id, model.serverMetadata): a cloud project may hold a
   * same-named server of another installation, and that one is never adopted. Every retry of
   * this call carries the same `clientToken`, for clouds that make creates idempotent by one.
   * After a CapacityError for a flavor, creates of that flavor fail at once for a while.
   */
  createServer(request: CreateServerRequest, signal?: AbortSignal): Promise<CloudServer> {
    const req: CreateServerRequest = { ...request, clientToken: request.clientToken ?? randomUUID() };
    const created = (s: CloudServer) => s.name === req.name && Object.entries(req.metadata).every(([k, v]) => s.metadata[k] === v);
    const pausedUntil = this.pausedFlavors.get(req.flavorId);
    if (pausedUntil !== undefined && pausedUntil > this.clock.now()) {
      return Promise.reject(new CapacityError(`provider ${this.name}: no capacity for flavor ${req.flavorId}; creates of it paused for ${Math.ceil((pausedUntil - this.clock.now()) / 1000)} s`));
    }
    return this.retry(
      async (attempt) => {
        if (attempt > 0) {
          // One list, not retried on its own: if it fails retryably the whole attempt is retried.
          const existing = (await this.listServersOnce(signal)).find(created);
          if (existing) {
            this.log.info({ server: existing.id, name: req.name }, 'create failed but the server exists; using it');
            return existing;
          }
        }
        try {
          return await this.call('createServer', () => this.driver.createServer(req), signal);
        } catch (err) {
          if (err instanceof CapacityError) {
            this.pausedFlavors.set(req.flavorId, this.clock.now() + this.capacityPauseMs);
            this.log.warn({ flavor: req.flavorId, pauseMs: this.capacityPauseMs }, 'cloud has no capacity for this flavor; pausing its creates');
          }
          throw err;
        }
      },
      'createServer',
      signal,
    );
  }

  /** Whether creates of this flavor are paused after a CapacityError (for views and the planner). */
  flavorPaused(flavorId: string): boolean {
    return (this.pausedFlavors.get(flavorId) ?? 0) > this.clock.now();
  }

  /**
   * One server by id, through the bucket with retries; null when the cloud answers 404 (or shows
   * it deleted). Cleanup confirms a server missing from one list with it.
   */
  async getServer(id: string, signal?: AbortSignal): Promise<CloudServer | null> {
    try {
      const server = await this.retried('getServer', () => this.driver.getServer(id), signal);
      return GONE_RAW.has(server.rawStatus.toLowerCase()) ? null : server;
    } catch (err) {
      if (err instanceof NotFoundError) return null;
      throw err;
    }
  }

  /** Deletes a server; one that is already gone counts as deleted. */
  async deleteServer(id: string, signal?: AbortSignal): Promise<void> {
    await this.ignoreNotFound(this.retried('deleteServer', () => this.driver.deleteServer(id), signal));
  }

  /** A fresh list (through the bucket); it also becomes the poller's snapshot. */
  listServers(signal?: AbortSignal): Promise<CloudServer[]> {
    return this.retry(() => this.listServersOnce(signal), 'listServers', signal);
  }

  getQuota(signal?: AbortSignal): Promise<Quota> {
    return this.retried('getQuota', () => this.driver.getQuota(), signal);
  }

  /** A fresh image list; it also refreshes the cache findImage uses. */
  async listImages(signal?: AbortSignal): Promise<CloudImage[]> {
    const images = await this.retried('listImages', () => this.driver.listImages(), signal);
    this.images.set(images);
    return images;
  }

  /**
   * Snapshots a server. As with createServer, a retryable failure may still have made the image,
   * so before each retry the image list is searched for one with this name carrying every entry
   * of `metadata` (our build id), and a match is returned instead of making a second.
   */
  createImage(serverId: string, name: string, metadata: Record<string, string>, signal?: AbortSignal): Promise<string> {
    const ours = (i: CloudImage) => i.name === name && Object.entries(metadata).every(([k, v]) => i.metadata[k] === v);
    return this.retry(
      async (attempt) => {
        if (attempt > 0) {
          const existing = (await this.call('listImages', () => this.driver.listImages(), signal)).find(ours);
          if (existing) {
            this.log.info({ image: existing.id, name }, 'snapshot call failed but the image exists; using it');
            return existing.id;
          }
        }
        const id = await this.call('createImage', () => this.driver.createImage(serverId, name, metadata), signal);
        this.images.invalidate();
        return id;
      },
      'createImage',
      signal,
    );
  }

  /** Deletes an image; one that is already gone counts as deleted. */
  async deleteImage(id: string, signal?: AbortSignal): Promise<void> {
    await this.ignoreNotFound(this.retried('deleteImage', () => this.driver.deleteImage(id), signal));
    this.images.invalidate();
  }

  /** The driver lists image artifacts (listImageArtifacts: EC2's snapshots). */
  get hasImageArtifacts(): boolean {
    return typeof this.driver.listImageArtifacts === 'function' && typeof this.driver.deleteImageArtifact === 'function';
  }

  /** Image artifacts of ours (empty for a driver without them). */
  listImageArtifacts(signal?: AbortSignal): Promise<ImageArtifact[]> {
    const list = this.driver.listImageArtifacts?.bind(this.driver);
    return list ? this.retried('listImageArtifacts', list, signal) : Promise.resolve([]);
  }

  /** Deletes an image artifact; one already gone counts as deleted. */
  async deleteImageArtifact(id: string, signal?: AbortSignal): Promise<void> {
    const del = this.driver.deleteImageArtifact?.bind(this.driver);
    if (del) await this.ignoreNotFound(this.retried('deleteImageArtifact', () => del(id), signal));
  }

  /** Flavors, cached for the TTL (they change rarely). */
  listFlavors(): Promise<Flavor[]> {
    return this.flavors.get();
  }

  /** The smallest flavor with at least `minRamMb` whose name contains `nameFilter`. */
  async findFlavor(minRamMb: number, nameFilter?: string): Promise<Flavor> {
    const flavors = await this.listFlavors();
    const flavor = chooseFlavor(flavors, minRamMb, nameFilter);
    if (flavor) return flavor;
    const have = flavors.map((f) => `${f.name} (${f.ramMb} MB)`).join(', ') || 'none';
    const filter = nameFilter ? ` whose name contains "${nameFilter}"` : '';
    throw new NotFoundError(`provider ${this.name}: no flavor with at least ${minRamMb} MB RAM${filter}; flavors: ${have}`);
  }

  /**
   * Like findFlavor, from the cached list only and without waiting (stale-while-revalidate):
   * for the planner, which must never wait on a cloud. undefined until a list has been read.
   */
  cachedFlavor(minRamMb: number, nameFilter?: string): Flavor | undefined {
    const flavors = this.flavors.peek();
    return flavors && chooseFlavor(flavors, minRamMb, nameFilter);
  }

  /**
   * The active image whose id or name is `nameOrId` (the newest if several share the name).
   * A miss in the cached list is checked once against a fresh list before failing.
   */
  async findImage(nameOrId: string): Promise<CloudImage> {
    let images = await this.images.get();
    let found = pickImage(images, nameOrId);
    if (!found) {
      images = await this.images.refresh();
      found = pickImage(images, nameOrId);
    }
    if (found) return found;
    const same = images.filter((i) => i.id === nameOrId || i.name === nameOrId);
    const why = same.length ? `; matching images are not active: ${same.map((i) => `${i.id} (${i.status})`).join(', ')}` : '';
    throw new NotFoundError(`provider ${this.name}: no active image with id or name "${nameOrId}"${why}`);
  }

  /**
   * Waits on the shared poll until the server is active. LaunchError if it goes to error (the
   * message carries the cloud's fault) or vanishes from two consecutive lists; TimeoutError
   * after `timeoutMs`.
   */
  async waitForActive(id: string, timeoutMs: number, signal?: AbortSignal): Promise<CloudServer> {
    let missing = 0;
    const server = await this.poller.waitFor(
      id,
      (s) => {
        if (!s) {
          if (++missing >= 2) throw new LaunchError(`provider ${this.name}: server ${id} vanished while booting`);
          return false;
        }
        missing = 0;
        if (s.status === 'error') {
          // Nova's conductor re-checks quota after accepting a burst of creates: the loser goes
          // ERROR with fault 413 "Quota exceeded ...". That is the cloud being full, not a bad boot.
          if (s.faultCode === 413 || /quota exceeded/i.test(s.fault ?? '')) {
            throw new QuotaExceededError(`provider ${this.name}: server ${id} went to ${s.rawStatus}: ${s.fault ?? 'quota exceeded'}`, s.faultCode ?? 413);
          }
          throw new LaunchError(`provider ${this.name}: server ${id} went to ${s.rawStatus}: ${s.fault ?? 'no fault given'}`);
        }
        if (s.status === 'deleting') throw new LaunchError(`provider ${this.name}: server ${id} is being deleted (${s.rawStatus})`);
        return s.status === 'active';
      },
      timeoutMs,
      signal,
      'active',
    );
    return server!;
  }

  /** Waits on the shared poll until the server is absent from the list (or listed as deleted). */
  async waitForGone(id: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    await this.poller.waitFor(id, (s) => !s || GONE_RAW.has(s.rawStatus.toLowerCase()), timeoutMs, signal, 'gone');
  }

  /** The latest server list (from the poll or listServers), so cleanup needs no extra call. */
  snapshot(): ServerSnapshot | null {
    return this.poller.snapshot();
  }

  /** Poll now instead of at the next tick (e.g. when a boot is expected to be done). */
  pollNow(): void {
    this.poller.pollNow();
  }

  stats(): ProviderStats {
    return { calls: this.counts.calls, byOp: { ...this.counts.byOp }, errors: { ...this.counts.errors } };
  }

  /** Stops the poll, rejects waiters and queued calls with an AbortError, closes the driver; idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const reason = new DOMException(`provider ${this.name} closed`, 'AbortError');
      this.closer.abort(reason);
      this.poller.close();
      for (const b of this.buckets.values()) b.close(reason);
      try {
        await this.driver.close();
      } catch (err) {
        this.log.warn({ err }, 'driver close failed');
      }
    })();
    return this.closing;
  }

  private async listServersOnce(signal?: AbortSignal): Promise<CloudServer[]> {
    const ticket = this.poller.ticket();
    const servers = await this.call('listServers', () => this.driver.listServers(), signal);
    this.poller.record(ticket, servers);
    return servers;
  }

  /** Tokens `op` takes, per bucket. */
  private cost(op: string): [TokenBucket, number][] {
    const rl = this.driver.rateLimits;
    if (!rl) return [[this.buckets.get(DEFAULT_BUCKET)!, 1]];
    return Object.entries(rl.cost(op)).flatMap(([name, n]) => {
      const b = this.buckets.get(name);
      return b && n > 0 ? [[b, n] as [TokenBucket, number]] : [];
    });
  }

  /** One driver call: its tokens, the call, its timing and outcome; a Retry-After pauses its buckets. */
  private async call<T>(op: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const cost = this.cost(op);
    const s = this.signalFor(signal);
    const queued = this.clock.now();
    for (const [bucket, n] of cost) for (let i = 0; i < n; i++) await bucket.take(s);
    const started = this.clock.now();
    if (started > queued) this.onRateLimitWait?.(started - queued);
    this.counts.calls++;
    this.counts.byOp[op] = (this.counts.byOp[op] ?? 0) + 1;
    try {
      const result = await fn();
      this.report(op, 'ok', started);
      return result;
    } catch (err) {
      const code = errorCode(err);
      this.counts.errors[code] = (this.counts.errors[code] ?? 0) + 1;
      this.report(op, code, started);
      if (err instanceof RateLimitedError && err.retryAfterMs !== null) for (const [bucket] of cost) bucket.pause(cappedRetryAfter(err.retryAfterMs, this.policy));
      throw err;
    }
  }

  private report(op: string, outcome: string, started: number): void {
    try {
      this.onApiCall?.(op, outcome, this.clock.now() - started);
    } catch (err) {
      this.log.warn({ err, op }, 'onApiCall hook failed');
    }
  }

  private retried<T>(op: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.retry(() => this.call(op, fn, signal), op, signal);
  }

  private retry<T>(fn: (attempt: number) => Promise<T>, op: string, signal?: AbortSignal): Promise<T> {
    return withRetry(fn, {
      policy: this.policy,
      clock: this.clock,
      signal: this.signalFor(signal),
      random: this.random,
      onRetry: (err, attempt, delayMs) => this.log.warn({ err, op, attempt, delayMs: Math.round(delayMs) }, 'cloud call failed; retrying'),
    });
  }

  private signalFor(signal?: AbortSignal): AbortSignal {
    return signal ? AbortSignal.any([this.closer.signal, signal]) : this.closer.signal;
  }

  private async ignoreNotFound(p: Promise<void>): Promise<void> {
    try {
      await p;
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }
}

function pickImage(images: readonly CloudImage[], nameOrId: string): CloudImage | undefined {
  const byId = images.find((i) => i.id === nameOrId && i.status === 'active');
  if (byId) return byId;
  return images.filter((i) => i.name === nameOrId && i.status === 'active').sort((a, b) => b.created - a.created)[0];
}
