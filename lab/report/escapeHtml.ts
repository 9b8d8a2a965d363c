/**
 * Escapes text for HTML element content and double- or single-quoted attribute values (also inside
 * inline SVG). Everything that comes from a history (message text, ids, client names, scenario
 * name, evidence) goes through this: untrusted text is never HTML.
 */
const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
