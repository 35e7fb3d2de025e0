// One error hierarchy with stable codes. The code is the `reason` label in metrics.

export class NodepoolError extends Error {
  readonly code: string = 'error';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class ConfigError extends NodepoolError {
  override readonly code = 'config';
  /** One line per problem, each naming file, line, column and key path. */
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

export class InvalidTransitionError extends NodepoolError {
  override readonly code = 'invalid-transition';
  constructor(readonly kind: 'node' | 'image', readonly id: number, readonly from: string, readonly to: string) {
    super(`${kind} ${id}: transition ${from} -> ${to} is not allowed`);
  }
}

export class NotInStoreError extends NodepoolError {
  override readonly code = 'not-in-store';
}

/** Anything a cloud API answered with an error, or failed to answer. */
export class CloudError extends NodepoolError {
  override readonly code: string = 'cloud';
  /** Whether the same call may succeed if sent again after a backoff. */
  readonly retryable: boolean = false;
  constructor(message: string, readonly status?: number, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class NotFoundError extends CloudError {
  override readonly code = 'not-found';
}

/** The cloud refused because a quota is used up: not retried blindly; shrinks the capacity estimate. */
export class QuotaExceededError extends CloudError {
  override readonly code: string = 'quota';
}

/**
 * The cloud has no capacity for this flavor right now (EC2: InsufficientInstanceCapacity). Handled
 * as a quota answer (the launch is dropped, the estimate shrinks, nothing is retried blindly), and
 * ManagedProvider pauses creates of that flavor for a while.
 */
export class CapacityError extends QuotaExceededError {
  override readonly code = 'capacity';
}

export class RateLimitedError extends CloudError {
  override readonly code = 'rate-limited';
  override readonly retryable = true;
  constructor(message: string, status: number, readonly retryAfterMs: number | null) {
    super(message, status);
  }
}

export class ConflictError extends CloudError {
  override readonly code = 'conflict';
}

export class CloudServerError extends CloudError {
  override readonly code = 'server-error';
  override readonly retryable = true;
}

/** The connection failed or timed out before the cloud answered. */
export class CloudNetworkError extends CloudError {
  override readonly code = 'network';
  override readonly retryable = true;
}

export class BadRequestError extends CloudError {
  override readonly code = 'bad-request';
}

/**
 * The cloud cannot place a server on the configured networks (Nova: no network can be
 * auto-allocated, or several match `auto`). Only a config change fixes it: never retried.
 */
export class NetworkConfigError extends CloudError {
  override readonly code = 'network-config';
}

/** A paginated list broke off (a repeated marker, a page that failed): never a partial "complete" list. */
export class IncompleteListError extends CloudError {
  override readonly code = 'incomplete-list';
  override readonly retryable = true;
}

export class AuthError extends CloudError {
  override readonly code = 'auth';
}

/** A launch step took longer than its budget (boot-timeout, launch-timeout). */
export class TimeoutError extends NodepoolError {
  override readonly code = 'timeout';
}

/** The server came up in ERROR, or never answered SSH. */
export class LaunchError extends NodepoolError {
  override readonly code = 'launch-failed';
}

/** The image's private-key cannot be read or parsed: no retry can fix it. */
export class SshKeyError extends NodepoolError {
  override readonly code = 'ssh-key';
}

/** A CI master (Jenkins, Gearman consumer) refused or failed a registration. */
export class TargetError extends NodepoolError {
  override readonly code: string = 'target';
  constructor(message: string, readonly retryable = false, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class TargetAuthError extends TargetError {
  override readonly code = 'target-auth';
}

export function errorCode(err: unknown): string {
  return err instanceof NodepoolError ? err.code : 'unexpected';
}

/** A Gearman job server did not answer an admin command: down, timed out, or answered ERR. */
export class GearmanError extends NodepoolError {
  override readonly code = 'gearman';
  constructor(message: string, readonly retryable = true, options?: { cause?: unknown }) {
    super(message, options);
  }
}
