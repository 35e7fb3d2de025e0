// Prometheus metrics. One registry per daemon so tests can run several in one process.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly launches = new Counter({
    name: 'nodepool_launch_total',
    help: 'Launch attempts by outcome (ready, or the error code that ended the attempt)',
    labelNames: ['provider', 'label', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly launchSeconds = new Histogram({
    name: 'nodepool_launch_seconds',
    help: 'Time from node row to ready',
    labelNames: ['provider', 'label'] as const,
    buckets: [1, 2, 5, 10, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });
  readonly deletes = new Counter({
    name: 'nodepool_delete_total',
    help: 'Node deletions by outcome',
    labelNames: ['provider', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly apiCalls = new Counter({
    name: 'nodepool_cloud_api_calls_total',
    help: 'Cloud API calls by operation and outcome (ok or error code)',
    labelNames: ['provider', 'op', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly nodes = new Gauge({
    name: 'nodepool_nodes',
    help: 'Nodes by provider, label and state',
    labelNames: ['provider', 'label', 'state'] as const,
    registers: [this.registry],
  });
  readonly leaks = new Counter({
    name: 'nodepool_leaked_servers_deleted_total',
    help: 'Servers with our metadata and no live row, deleted by cleanup',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });
  readonly events = new Counter({
    name: 'nodepool_events_total',
    help: 'ZeroMQ build events by topic and outcome',
    labelNames: ['topic', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'nodepool_errors_total',
    help: 'Errors by component and reason code',
    labelNames: ['component', 'reason'] as const,
    registers: [this.registry],
  });
}
