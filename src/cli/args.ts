// Argument parsers: a bad value is an operator error reported by commander (exit 1, one line).
import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../duration.js';

export function parseId(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError('expected a node id (a positive whole number).');
  }
  return Number(value);
}

export function parseDurationArg(value: string): number {
  const ms = parseDuration(value);
  if (ms === null) throw new InvalidArgumentError('expected a duration such as 3600, "90m", "2h" or "1d12h".');
  return ms;
}

/** A TCP port; 0 means "off" where the option says so. */
export function parsePort(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError('expected a port number 0-65535 (0 turns the web server off).');
  return Number(value);
}
