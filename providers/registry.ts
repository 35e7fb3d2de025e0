// Cloud drivers by config `driver` name. Adding a cloud: write providers/<cloud>/driver.ts,
// add one line here, and run test/contract/provider-contract.ts against its emulator.
import type { Clock } from '../src/clock.js';
import type { ProviderConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import { createEc2Driver } from './ec2/driver.js';
import { createOpenStackDriver } from './openstack/driver.js';
import type { ProviderDriver } from './provider.js';

export interface DriverOptions {
  clock?: Clock;
  log?: Logger;
}

export type DriverFactory = (cfg: ProviderConfig, opts: DriverOptions) => ProviderDriver;

/** Registered drivers. */
export const drivers = {
  openstack: createOpenStackDriver,
  ec2: createEc2Driver,
} satisfies Partial<Record<ProviderConfig['driver'], DriverFactory>>;

export function createDriver(cfg: ProviderConfig, opts: DriverOptions = {}): ProviderDriver {
  const factory: DriverFactory | undefined = (drivers as Partial<Record<string, DriverFactory>>)[cfg.driver];
  if (!factory) {
    const known = Object.keys(drivers).join(', ');
    throw new ConfigError([`providers.${cfg.name}.driver: driver "${cfg.driver}" is not available (registered: ${known})`]);
  }
  return factory(cfg, opts);
}
