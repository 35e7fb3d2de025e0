// Drivers that are named in the schema but not built yet are refused when the file is checked,
// not when the daemon starts.
import { expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

const EC2 = `labels:
  - { name: small, image: ubuntu, providers: [{ name: aws }] }
providers:
  - name: aws
    driver: ec2
    max-servers: 4
    images: [{ name: ubuntu, base-image: ubuntu-jammy }]
`;

it('rejects driver ec2 at validation with one located problem', () => {
  let caught: unknown;
  try {
    parseConfig(EC2, 'ec2.yaml');
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  expect((caught as ConfigError).problems).toEqual(['ec2.yaml:5:13: providers[0].driver: driver ec2 is not available yet']);
});
