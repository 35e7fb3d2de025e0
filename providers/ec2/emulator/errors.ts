// EC2 error answers. Client errors are HTTP 400 (401 for AuthFailure, 403 for a bad
// signature), server errors 500, throttling and Unavailable 503, as the API reference's
// "Error codes for the Amazon EC2 API" lists them
// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html). Throttling
// answers 503 RequestLimitExceeded "Request limit exceeded." (what SDKs report from real EC2,
// e.g. https://github.com/cloudfoundry/bosh-aws-cpi-release/issues/61 "Status Code: 503;
// Error Code: RequestLimitExceeded").

export class Ec2Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** HTTP status of the codes that are not plain client errors. */
const STATUS: Record<string, number> = {
  AuthFailure: 401,
  SignatureDoesNotMatch: 403,
  UnauthorizedOperation: 403,
  RequestLimitExceeded: 503,
  Unavailable: 503,
  InternalError: 500,
  InsufficientInstanceCapacity: 500,
  InsufficientCapacity: 500,
};

export function ec2Error(code: string, message: string): Ec2Error {
  return new Ec2Error(code, message, STATUS[code] ?? 400);
}

export const MESSAGES = {
  throttled: 'Request limit exceeded.',
  internal: 'An internal error has occurred',
  unavailable: 'The service is unavailable. Please try again shortly.',
};

export function notFoundIds(kind: string, ids: string[]): string {
  return ids.length === 1 ? `The ${kind} ID '${ids[0]}' does not exist` : `The ${kind} IDs '${ids.join(', ')}' do not exist`;
}
