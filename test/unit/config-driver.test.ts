// driver: ec2 validates with its own keys; what it needs is checked when the file is checked,
// not when the daemon starts.
import { expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

const EC2 = `labels:
  - { name: small, image: ubuntu, providers: [{ name: aws }] }
providers:
  - name: aws
    driver: ec2
    region-name: eu-west-1
    max-servers: 4
    images: [{ name: ubuntu, base-image: ubuntu-jammy }]
`;

function problems(yaml: string, env: Record<string, string> = {}): string[] {
  try {
    parseConfig(yaml, 'ec2.yaml', env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

it('accepts driver ec2 with a region and fills the EC2 defaults', () => {
  const p = parseConfig(EC2, 'ec2.yaml').providers[0];
  expect(p).toMatchObject({ driver: 'ec2', 'region-name': 'eu-west-1', subnets: [], 'security-groups': [], market: 'on-demand' });
  expect(p['max-vcpus']).toBeUndefined();
  expect(p.endpoint).toBeUndefined();
});

it('driver ec2 needs region-name, and both access keys or neither', () => {
  expect(problems(EC2.replace('    region-name: eu-west-1\n', ''))).toEqual([
    'ec2.yaml:4:5: providers[0].region-name: missing required key "region-name" (driver ec2 needs its AWS region)',
  ]);
  expect(problems(EC2.replace('max-servers: 4', 'max-servers: 4\n    access-key-id: AKIDEXAMPLE'))).toEqual([
    'ec2.yaml:8:5: providers[0].access-key-id: give both "access-key-id" and "secret-access-key", or neither (the SDK default chain)',
  ]);
});

it('takes EC2 keys from the environment and the bucket overrides', () => {
  const yaml = EC2.replace(
    'max-servers: 4',
    'max-servers: 4\n    access-key-id: "${AWS_KEY}"\n    secret-access-key: "${AWS_SECRET}"\n    market: spot\n    max-vcpus: 64\n    subnets: [subnet-a, subnet-b]\n    rate-limits: { run-instances: { burst: 5, refill: 1 } }',
  );
  const p = parseConfig(yaml, 'ec2.yaml', { AWS_KEY: 'AKIDEXAMPLE', AWS_SECRET: 'wJalrXUtnFEMI' }).providers[0];
  expect(p).toMatchObject({ 'access-key-id': 'AKIDEXAMPLE', 'secret-access-key': 'wJalrXUtnFEMI', market: 'spot', 'max-vcpus': 64, subnets: ['subnet-a', 'subnet-b'] });
  expect(p['rate-limits']?.['run-instances']).toEqual({ burst: 5, refill: 1 });
});
