// A tiny path-template router. Templates name variable segments "{id}"; literal segments win
// over variables ("/servers/detail" before "/servers/{id}"). The template is also the key
// under which calls are counted.

export interface Route<H> {
  method: string;
  template: string;
  handler: H;
}

export type Match<H> =
  | { kind: 'found'; route: Route<H>; params: string[] }
  | { kind: 'method-not-allowed'; template: string; allowed: string[] }
  | { kind: 'not-found' };

function segments(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

function matchTemplate(template: string, parts: string[]): string[] | null {
  const t = segments(template);
  if (t.length !== parts.length) return null;
  const params: string[] = [];
  for (let i = 0; i < t.length; i++) {
    if (t[i].startsWith('{')) params.push(decodeURIComponent(parts[i]));
    else if (t[i] !== parts[i]) return null;
  }
  return params;
}

/** Number of literal segments: more literal means more specific. */
function specificity(template: string): number {
  return segments(template).filter((s) => !s.startsWith('{')).length;
}

export function matchRoute<H>(routes: readonly Route<H>[], method: string, path: string): Match<H> {
  const parts = segments(path);
  const candidates = routes
    .map((route) => ({ route, params: matchTemplate(route.template, parts) }))
    .filter((c): c is { route: Route<H>; params: string[] } => c.params !== null)
    .sort((a, b) => specificity(b.route.template) - specificity(a.route.template));
  if (candidates.length === 0) return { kind: 'not-found' };
  // The most specific template that takes this method ("DELETE /servers/detail" is a server id).
  const hit = candidates.find((c) => c.route.method === method);
  if (hit) return { kind: 'found', route: hit.route, params: hit.params };
  const template = candidates[0].route.template;
  const allowed = candidates.filter((c) => c.route.template === template).map((c) => c.route.method);
  return { kind: 'method-not-allowed', template, allowed };
}
