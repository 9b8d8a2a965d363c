import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { SpaceTimeRecorder } from '../../lab/spaceTime.js';
import { SpaceTimeDiagram } from './SpaceTimeDiagram.js';

const ME = 'm'.padEnd(26, '0');
const EVE = 'e'.padEnd(26, '0');

describe('LAB-UI-5: the space-time diagram', () => {
  it('renders untrusted names and texts as text, never as markup', () => {
    const evil = '<img src=x onerror=alert(1)><script>alert(2)</script>';
    const messages = [{ id: 'x1', authorId: EVE, authorName: evil, text: evil, wall: 0, yId: { client: 5, clock: 0 } }];
    const r = new SpaceTimeRecorder(ME, 0);
    r.observe(0, 'Me', [], []);
    r.observe(1000, 'Me', messages, [{ userId: EVE, name: evil, sv: new Map([[5, 1]]) }]);
    const html = renderToStaticMarkup(createElement(SpaceTimeDiagram, { data: r.data(messages), now: 2000 }));
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;img');
    expect(html).toContain('<svg');
  });

  it('shortens a long name with an ellipsis, keeps it whole as the tooltip, and scrolls in a focusable, named region', () => {
    const long = 'Maximiliana Montgomery-Featherstonehaugh';
    const r = new SpaceTimeRecorder(ME, 0);
    r.observe(0, long, [], []);
    const html = renderToStaticMarkup(createElement(SpaceTimeDiagram, { data: r.data([]), now: 1000 }));
    expect(html).toMatch(/<div class="st-scroll" tabindex="0" role="region" aria-label="Space-time diagram drawing">/);
    expect(html).toContain(`<title>${long} (you)</title>Maximil`);
    expect(html).toMatch(/<title>[^<]*<\/title>Maximil[^<]*…<tspan[^>]*>\(you\)<\/tspan>/);
  });
});
