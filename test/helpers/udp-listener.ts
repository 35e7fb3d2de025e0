// A real statsd server stand-in: a UDP socket on 127.0.0.1 that keeps every line it receives.
import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';

export interface UdpListener {
  port: number;
  /** Every statsd line received so far ("key:value|type"), in order. */
  lines(): string[];
  /** The latest value of each gauge. */
  gauges(): Map<string, number>;
  close(): Promise<void>;
}

export async function startUdpListener(): Promise<UdpListener> {
  const socket = createSocket('udp4');
  const got: string[] = [];
  socket.on('message', (msg) => got.push(...msg.toString('utf8').split('\n').filter(Boolean)));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address() as AddressInfo;
  let closed: Promise<void> | null = null;
  return {
    port,
    lines: () => [...got],
    gauges: () => {
      const out = new Map<string, number>();
      for (const line of got) {
        const m = /^(.+):(-?[\d.]+)\|g$/.exec(line);
        if (m) out.set(m[1], Number(m[2]));
      }
      return out;
    },
    close: () => (closed ??= new Promise((resolve) => socket.close(() => resolve()))),
  };
}
