// A small XML writer for EC2 Query API answers. EC2 renders lists as `<fooSet><item>...</item></fooSet>`,
// booleans as true/false and times as ISO 8601 with milliseconds; absent values are left out.

export const EC2_XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

export type XmlValue = string | number | boolean | null | undefined | XmlNode | XmlValue[];
/** An element's children by name; an array value repeats as `<item>` children of that element. */
export interface XmlNode {
  [name: string]: XmlValue;
}

/** Text content needs only &, < and > escaped; quotes stay as EC2 writes them ("The instance ID 'i-...'"). */
export function escapeXml(s: string): string {
  return s.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]!);
}

function render(name: string, value: XmlValue): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return `<${name}>${value.map((v) => render('item', v)).join('')}</${name}>`;
  if (typeof value === 'object') return `<${name}>${renderChildren(value)}</${name}>`;
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

function renderChildren(node: XmlNode): string {
  return Object.entries(node)
    .map(([k, v]) => render(k, v))
    .join('');
}

/** `<ActionResponse xmlns=...><requestId>..</requestId>...</ActionResponse>`, as every EC2 answer starts. */
export function responseXml(action: string, requestId: string, body: XmlNode): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_XMLNS}">${render('requestId', requestId)}${renderChildren(body)}</${action}Response>`;
}

/** EC2's error document (API reference, "Error codes": example error response). */
export function errorXml(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${escapeXml(requestId)}</RequestID></Response>`;
}

/** EC2 times: 2026-12-02T00:38:00.000Z */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
