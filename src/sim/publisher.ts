// The ZeroMQ side of the simulated master: a PUB socket sending one-frame events, as the
// Jenkins ZMQ event publisher plugin does, that can be closed and bound again on the same port
// (to test listeners that must reconnect).
import { Publisher } from 'zeromq';
import type { Logger } from '../log.js';

export class EventPublisher {
  private sock: Publisher | null = null;
  private endpoint = '';
  /** zeromq allows one pending send per socket: sends are chained. */
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  sent = 0;

  constructor(private readonly log: Logger) {}

  /** Binds tcp://127.0.0.1:port (0 = a free port) and returns the bound URL. */
  async bind(port: number): Promise<string> {
    const sock = new Publisher({ linger: 0 });
    await sock.bind(`tcp://127.0.0.1:${port === 0 ? '*' : port}`);
    this.sock = sock;
    this.endpoint = sock.lastEndpoint ?? `tcp://127.0.0.1:${port}`;
    return this.endpoint;
  }

  get url(): string {
    return this.endpoint;
  }

  /** Queues one raw frame. Never throws: a publisher drops what it cannot send, as the plugin does. */
  send(frame: string): Promise<void> {
    this.chain = this.chain.then(async () => {
      const sock = this.sock;
      if (!sock || sock.closed) return;
      try {
        await sock.send(frame);
        this.sent++;
      } catch (error) {
        this.log.warn({ error }, 'zmq publish failed; event dropped');
      }
    });
    return this.chain;
  }

  /** Closes the socket and binds a new one on the same endpoint. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Closes the socket but keeps the endpoint: frames sent until start() are dropped. */
  async stop(): Promise<void> {
    if (this.closed) return;
    await this.chain;
    this.sock?.close();
    this.sock = null;
  }

  /** Binds the endpoint again after stop(). */
  async start(): Promise<void> {
    if (this.closed || this.sock) return;
    const port = Number(new URL(this.endpoint.replace(/^tcp:/, 'http:')).port);
    // libzmq releases the port asynchronously after close: retry a bounded number of times.
    let lastError: unknown;
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        await this.bind(port);
        this.log.info({ url: this.endpoint }, 'zmq publisher re-bound');
        return;
      } catch (error) {
        lastError = error;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    throw lastError;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.chain.catch(() => undefined);
    this.sock?.close();
    this.sock = null;
  }
}
