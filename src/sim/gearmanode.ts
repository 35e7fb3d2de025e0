// Typed, quiet access to the untyped `gearmanode` package for the simulator.
// Loaded through createRequire with local interfaces so that this folder does not depend on
// (or collide with) any ambient `declare module 'gearmanode'` elsewhere in the tree.
import { createRequire } from 'node:module';
import type { EventEmitter } from 'node:events';

export interface GearmanServerAddress {
  host: string;
  port: number;
}

export interface GmJobServer {
  getUid(): string;
  disconnect(err?: unknown): void;
  send(packet: Buffer): Error | undefined;
}

/** A job as the worker sees it. */
export interface GmWorkerJob extends EventEmitter {
  readonly name: string;
  readonly handle: string;
  readonly jobServerUid: string;
  payload: Buffer | string;
  workComplete(data?: string | Buffer): void;
  sendWorkData(data: string | Buffer): void;
  reportStatus(numerator: number, denominator: number): void;
  reportError(): void;
}

export interface GmWorker extends EventEmitter {
  readonly jobServers: GmJobServer[];
  functions: Record<string, unknown>;
  addFunction(name: string, cb: (job: GmWorkerJob) => void, opts?: { timeout?: number; toStringEncoding?: string }): Error | undefined;
  removeFunction(name: string): Error | undefined;
  resetAbilities(): void;
  setWorkerId(id: string): Error | undefined;
  close(): void;
  _getJobServerByUid(uid: string): GmJobServer | undefined;
  /** gearmanode's handler for every packet a job server sends the worker (NOOP, JOB_ASSIGN, NO_JOB...). */
  _response(server: GmJobServer, packetType: number, parsed: unknown): void;
}

/** A job as the client sees it. */
export interface GmClientJob extends EventEmitter {
  readonly name: string;
  handle?: string;
  response?: Buffer | string;
}

export interface GmClient extends EventEmitter {
  readonly jobServers: GmJobServer[];
  submitJob(
    name: string,
    payload: string | Buffer,
    opts?: { background?: boolean; priority?: 'HIGH' | 'NORMAL' | 'LOW'; unique?: string; toStringEncoding?: string },
  ): GmClientJob;
  close(): void;
}

interface GearmanodeModule {
  client(opts: { servers: GearmanServerAddress[]; loadBalancing?: 'Sequence' | 'RoundRobin'; recoverTime?: number }): GmClient;
  worker(opts: { servers: GearmanServerAddress[]; recoverTime?: number; recoverLimit?: number }): GmWorker;
}

interface WinstonLike {
  silent?: boolean;
  loggers: { get(name: string): { silent?: boolean } };
  configure?(opts: { silent: boolean }): void;
}

interface ProtocolModule {
  PACKET_TYPES: Record<string, number>;
  encodePacket(type: number, args?: (string | Buffer)[]): Buffer;
}

let loaded: GearmanodeModule | undefined;
let protocol: ProtocolModule | undefined;

/** Loads gearmanode once, with its winston loggers silenced (they warn about missing transports). */
export function gearmanode(): GearmanodeModule {
  if (loaded) return loaded;
  const req = createRequire(import.meta.url);
  // winston as gearmanode resolves it, so the instance we silence is the one it logs through.
  const fromGm = createRequire(req.resolve('gearmanode'));
  const winston = fromGm('winston') as WinstonLike;
  winston.configure?.({ silent: true });
  loaded = req('gearmanode') as GearmanodeModule;
  protocol = fromGm('./gearmanode/protocol') as ProtocolModule;
  for (const name of ['Client', 'Worker', 'JobServer', 'Job', 'LBStrategy', 'protocol']) {
    winston.loggers.get(name).silent = true;
  }
  return loaded;
}

/**
 * Withdraws one function on one job server only (gearmanode's removeFunction does all servers
 * at once and forgets the callback). Note that gearmand requeues a job the worker is running
 * when that job's function is withdrawn.
 */
export function cantDo(server: GmJobServer, fn: string): void {
  gearmanode();
  server.send(protocol!.encodePacket(protocol!.PACKET_TYPES.CANT_DO, [fn]));
}

/** The protocol's number for a packet type, e.g. packetType('NOOP') === 6. */
export function packetType(name: string): number {
  gearmanode();
  const type = protocol!.PACKET_TYPES[name];
  if (type === undefined) throw new RangeError(`unknown gearman packet type ${name}`);
  return type;
}

export function payloadText(p: Buffer | string | undefined): string {
  if (p === undefined) return '';
  return typeof p === 'string' ? p : p.toString('utf8');
}
