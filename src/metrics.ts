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
  readonly eventFrames = new Counter({
    name: 'nodepool_build_event_frames_received_total',
    help: 'ZeroMQ build event frames received, good or bad',
    registers: [this.registry],
  });
  readonly eventFramesBad = new Counter({
    name: 'nodepool_build_event_frames_bad_total',
    help: 'ZeroMQ build event frames ignored, by reason (garbage, unknown-topic, not-json, missing-field)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly eventHandlerErrors = new Counter({
    name: 'nodepool_build_event_handler_errors_total',
    help: 'Good build event frames whose handling failed',
    registers: [this.registry],
  });
  readonly demandUnassigned = new Gauge({
    name: 'nodepool_demand_unassigned',
    help: 'Waiting Gearman builds of jobs that map to no label (no build:JOB:LABEL function names one)',
    registers: [this.registry],
  });
  readonly gearmanUp = new Gauge({
    name: 'nodepool_gearman_server_up',
    help: '1 when the gearman server answered its last status poll, 0 when not',
    labelNames: ['server'] as const,
    registers: [this.registry],
  });
  readonly cloudUp = new Gauge({
    name: 'nodepool_cloud_up',
    help: '1 when the provider answered its last reconcile pass, 0 when not',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });
  readonly targetRepairs = new Counter({
    name: 'nodepool_target_repairs_total',
    help: 'Nodes repaired by the reconcile pass after a lost build event, by target and action (in-use, used, delete)',
    labelNames: ['target', 'action'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'nodepool_errors_total',
    help: 'Errors by component and reason code',
    labelNames: ['component', 'reason'] as const,
    registers: [this.registry],
  });
}
