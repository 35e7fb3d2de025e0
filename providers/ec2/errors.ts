// EC2 error codes -> the typed errors of src/errors.ts. Retryability is decided from data: the
// code sets below and the HTTP status, never from a message.
// Codes: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
import {
  AuthError,
  BadRequestError,
  CapacityError,
  CloudError,
  CloudNetworkError,
  CloudServerError,
  ConflictError,
  NetworkConfigError,
  NotFoundError,
  QuotaExceededError,
  RateLimitedError,
} from '../../src/errors.js';

const THROTTLED = new Set(['RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'RequestThrottled']);
const QUOTA = new Set(['InstanceLimitExceeded', 'VcpuLimitExceeded', 'MaxSpotInstanceCountExceeded', 'InsufficientFreeAddressesInSubnet', 'ResourceLimitExceeded', 'AddressLimitExceeded']);
const CAPACITY = new Set(['InsufficientInstanceCapacity', 'InsufficientCapacity', 'InsufficientHostCapacity', 'InsufficientReservedInstanceCapacity', 'SpotMaxPriceTooLow']);
const AUTH = new Set(['AuthFailure', 'UnauthorizedOperation', 'InvalidClientTokenId', 'SignatureDoesNotMatch', 'OptInRequired', 'Blocked', 'PendingVerification', 'ExpiredToken', 'InvalidAccessKeyId']);
const SERVER = new Set(['InternalError', 'InternalFailure', 'ServiceUnavailable', 'Unavailable']);
const CONFLICT = new Set(['IncorrectInstanceState', 'IncorrectState', 'IdempotentParameterMismatch', 'InvalidInstanceID', 'ConcurrentTagAccess', 'InvalidAMIName.Duplicate']);
/** Missing networking a launch names: only a config change helps. */
const NETWORK = /^Invalid(Subnet|Group|Vpc|NetworkInterface|SecurityGroup)[A-Za-z]*\.(NotFound|Malformed)$|^InvalidSubnet$|^VPCIdNotSpecified$/;
const NETWORK_NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET']);

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

/** The error code EC2 answered (the SDK puts it in `name`), or the socket error's. */
export function ec2ErrorCode(err: unknown): string {
  const e = err as SdkErrorShape;
  return e?.name && e.name !== 'Error' ? e.name : (e?.code ?? 'Unknown');
}

/**
 * One EC2 failure as a typed error. `action` (RunInstances, ...) goes into the message; the SDK's
 * error stays the cause. A NotFound on a launch names the networking or key the config gave, so
 * it is a config problem there, not a missing server.
 */
export function mapEc2Error(err: unknown, action: string): CloudError {
  if (err instanceof CloudError) return err;
  const e = err as SdkErrorShape;
  const code = ec2ErrorCode(err);
  const status = e?.$metadata?.httpStatusCode;
  const msg = `EC2 ${action}: ${code}: ${e?.message ?? String(err)}${e?.$metadata?.requestId ? ` (request ${e.$metadata.requestId})` : ''}`;
  const opts = { cause: err };
  if (THROTTLED.has(code)) {
    // EC2 sends no Retry-After: the retry backs off with jitter (providers/retry.ts).
    const r = new RateLimitedError(msg, status ?? 503, null);
    (r as { cause?: unknown }).cause = err;
    return r;
  }
  if (QUOTA.has(code)) return new QuotaExceededError(msg, status, opts);
  if (CAPACITY.has(code)) return new CapacityError(msg, status, opts);
  if (AUTH.has(code)) return new AuthError(msg, status, opts);
  if (SERVER.has(code)) return new CloudServerError(msg, status, opts);
  if (action === 'RunInstances' && NETWORK.test(code)) return new NetworkConfigError(msg, status, opts);
  if (action === 'RunInstances' && code.startsWith('InvalidKeyPair.')) return new BadRequestError(msg, status, opts);
  if (code.endsWith('.NotFound') || code === 'InvalidAMIID.Unavailable') return new NotFoundError(msg, status ?? 404, opts);
  if (CONFLICT.has(code)) return new ConflictError(msg, status, opts);
  if (NETWORK_NETWORK_CODES.has(code) || e?.name === 'TimeoutError' || e?.name === 'AbortError') return new CloudNetworkError(msg, undefined, opts);
  // Unsupported: e.g. an instance type not offered in the subnet's AZ, a config problem a retry never fixes.
  if (code.startsWith('Invalid') || code.startsWith('Missing') || code === 'UnknownParameter' || code === 'ValidationError' || code === 'DryRunOperation' || code === 'Unsupported') {
    return new BadRequestError(msg, status, opts);
  }
  if (e?.$fault === 'server' || (status !== undefined && status >= 500)) return new CloudServerError(msg, status, opts);
  if (status === undefined && e?.$metadata === undefined) return new CloudNetworkError(msg, undefined, opts);
  return new CloudError(msg, status, opts);
}
