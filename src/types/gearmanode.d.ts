// Minimal types for the untyped `gearmanode` package (0.9.x): only what nodepool-ts uses.
// Its methods report bad arguments by *returning* an Error, and failures later as events.
declare module 'gearmanode' {
  import type { EventEmitter } from 'node:events';

  export interface ServerAddress {
    host?: string;
    port?: number;
  }

  export interface ServerOptions extends ServerAddress {
    servers?: ServerAddress[];
  }

  export interface ClientOptions extends ServerOptions {
    loadBalancing?: 'Sequence' | 'RoundRobin';
    /** ms before a server marked bad is tried again (default 30000). */
    recoverTime?: number;
  }

  export interface WorkerOptions extends ServerOptions {
    withUnique?: boolean;
  }

  export interface SubmitOptions {
    background?: boolean;
    priority?: 'HIGH' | 'NORMAL' | 'LOW';
    unique?: string;
    /** When set, `response` is a string in this encoding, else a Buffer. */
    toStringEncoding?: BufferEncoding;
  }

  /**
   * Client side events: submited, created, complete, failed, exception(text), timeout, close,
   * error(Error), workData(data), warning(data), status(status).
   * Worker side: the same object carries the payload and the work* methods.
   */
  export interface Job extends EventEmitter {
    readonly name: string;
    payload: Buffer | string;
    response?: Buffer | string;
    handle?: string;
    jobServerUid?: string;
    unique?: string;
    background?: boolean;
    close(): void;
    getStatus(): Error | undefined;
    workComplete(data?: string | Buffer): void;
    sendWorkData(data: string | Buffer): void;
    reportStatus(numerator: number, denominator: number): void;
    reportWarning(data: string | Buffer): void;
    reportError(): void;
    reportException(text: string): void;
  }

  export interface JobServer extends EventEmitter {
    readonly host: string;
    readonly port: number;
    connected: boolean;
    getUid(): string;
    echo(data: string): Error | undefined;
  }

  /**
   * Events: socketConnect(uid), socketDisconnect(uid, err?), socketError(uid, err),
   * jobServerError(uid, code, message), close, error(Error).
   */
  export interface Client extends EventEmitter {
    readonly jobServers: JobServer[];
    closed?: boolean;
    submitJob(name: string, payload: string | Buffer, options?: SubmitOptions): Job;
    close(): void;
  }

  export interface Worker extends EventEmitter {
    readonly jobServers: JobServer[];
    addFunction(
      name: string,
      callback: (job: Job) => void,
      options?: { timeout?: number; toStringEncoding?: BufferEncoding },
    ): Error | undefined;
    removeFunction(name: string): Error | undefined;
    resetAbilities(): void;
    setWorkerId(id: string): Error | undefined;
    close(): void;
  }

  export function client(options?: ClientOptions): Client;
  export function worker(options?: WorkerOptions): Worker;
}
