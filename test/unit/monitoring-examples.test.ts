// The monitoring examples in config/ parse, and every metric their queries use is one /metrics
// serves (so a renamed metric fails here, not on an operator's dashboard).
import { readFileSync } from 'node:fs';
import { Histogram } from 'prom-client';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/metrics.js';

const families = new Set(new Metrics().familyNames());
const histograms = new Set(
  new Metrics().registry
    .getMetricsAsArray()
    .filter((m) => m instanceof Histogram)
    .map((m) => m.name),
);

/** Metric names in a PromQL expression; a histogram's _bucket/_sum/_count series count as its family. */
function metricsIn(expr: string): string[] {
  const names = expr.match(/\b(?:nodepool|process|nodejs)_[a-z0-9_]+\b/g) ?? [];
  return [...new Set(names.map((n) => {
    const base = n.replace(/_(bucket|sum|count)$/, '');
    return base !== n && (histograms.has(base) || families.has(base)) ? base : n;
  }))];
}

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

describe('monitoring examples', () => {
  it('the Prometheus alert rules parse, cover the issue list, and use only metrics /metrics has', () => {
    const doc = parse(readFileSync('config/prometheus-alerts.yml', 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
    const rules = doc.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining(['NodepoolLabelBelowMinReady', 'NodepoolLaunchFailureRatio', 'NodepoolLeakedResources', 'NodepoolImageTooOld', 'NodepoolProviderApiErrors', 'NodepoolBadBuildEvents']),
    );
    expect(rules.find((r) => r.alert === 'NodepoolLabelBelowMinReady')?.for).toBe('10m');
    expect(rules.find((r) => r.alert === 'NodepoolImageTooOld')?.expr).toMatch(/2 \* 86400/);
    for (const r of rules) {
      expect(r.expr, r.alert).toBeTruthy();
      expect(r.labels?.severity, r.alert).toMatch(/^(info|warning|critical)$/);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      const used = metricsIn(r.expr);
      expect(used.length, r.alert).toBeGreaterThan(0);
      expect(used.filter((m) => !families.has(m)), r.alert).toEqual([]);
    }
  });

  it('the Grafana dashboard parses, queries a Prometheus datasource, and uses only metrics /metrics has', () => {
    const dash = JSON.parse(readFileSync('config/grafana-dashboard.json', 'utf8')) as {
      title: string;
      __inputs: { pluginId: string }[];
      panels: { title: string; datasource: { type: string }; targets: { expr: string }[] }[];
    };
    expect(dash.__inputs.map((i) => i.pluginId)).toEqual(['prometheus']);
    expect(dash.panels.length).toBeGreaterThan(10);
    const used = new Set<string>();
    for (const p of dash.panels) {
      expect(p.datasource.type, p.title).toBe('prometheus');
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets) for (const m of metricsIn(t.expr)) used.add(m);
    }
    expect([...used].filter((m) => !families.has(m))).toEqual([]);
    // The pool, clouds, images and build events are all on it.
    for (const m of ['nodepool_label_ready_nodes', 'nodepool_launch_duration_seconds', 'nodepool_cloud_api_calls_total', 'nodepool_image_age_seconds', 'nodepool_build_events_total']) expect(used).toContain(m);
  });

  it('docs/metrics.md lists every family /metrics has, and names no other', () => {
    const doc = readFileSync('docs/metrics.md', 'utf8');
    const own = new Metrics().registry.getMetricsAsArray().map((m) => m.name);
    expect(own.filter((name) => !doc.includes(`| \`${name}\` |`))).toEqual([]);
    // Prose names groups as `nodepool_label_*`.
    expect(metricsIn(doc).filter((m) => !m.endsWith('_') && !families.has(m))).toEqual([]);
  });

  it('metricsIn folds histogram series into their family', () => {
    expect(metricsIn('histogram_quantile(0.9, rate(nodepool_launch_duration_seconds_bucket[5m])) + nodepool_nodes')).toEqual(['nodepool_launch_duration_seconds', 'nodepool_nodes']);
  });
});
