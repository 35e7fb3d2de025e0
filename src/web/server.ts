// Operators' HTTP endpoints: Prometheus /metrics, /health and a JSON API of nodes and images.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Daemon } from '../daemon.js';

export interface WebServer {
  url: string;
  close(): Promise<void>;
}

export async function startWebServer(daemon: Daemon, opts: { host: string; port: number }): Promise<WebServer> {
  const server: Server = createServer((req, res) => {
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    const json = (body: unknown) => send(200, 'application/json', JSON.stringify(body));
    const path = (req.url ?? '/').split('?')[0];
    const routes: Record<string, () => Promise<void>> = {
      '/metrics': async () => send(200, daemon.metrics.registry.contentType, await daemon.metrics.registry.metrics()),
      // 503 with the reasons when a cloud or the store is unusable: a load balancer or probe can act on it.
      '/health': async () => {
        const health = await daemon.healthCheck();
        send(health.ok ? 200 : 503, 'application/json', JSON.stringify(health));
      },
      '/api/nodes': async () => json(await daemon.store.listNodes()),
      '/api/images': async () => json(await daemon.store.listImages()),
    };
    const route = req.method === 'GET' ? routes[path] : undefined;
    if (!route) return send(404, 'application/json', JSON.stringify({ error: 'not found' }));
    route().catch((err) => send(500, 'application/json', JSON.stringify({ error: String(err) })));
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(opts.port, opts.host, resolve));
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | null = null;
  return {
    url: `http://${opts.host}:${port}`,
    close: () => (closed ??= new Promise((resolve) => server.close(() => resolve()))),
  };
}
