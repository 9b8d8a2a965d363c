import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { ClassTracker } from '../../lab/classTracker.js';
import { ClassViewContent } from './ClassView.js';

const state = (n: number, hash = '0000abcd'): unknown => ({
  user: { id: `s${String(n).padStart(25, '0')}`, name: `Student <b>${n}</b>` },
  typing: false,
  sv: [],
  lab: { faults: { skewMs: n === 3 ? -300_000 : 0 }, svSummary: 'abcd:12', svTotal: 12, hash, pending: 0, at: 0 },
});

const render = (states: Map<number, unknown>, now: number, tracker: ClassTracker): string =>
  renderToStaticMarkup(createElement(ClassViewContent, { room: 'maths', snap: tracker.observe(states, now, true) }));

describe('the class view with 30 simulated awareness states', () => {
  it('lists every participant once with its state, ignores malformed states, and shows the verdict', () => {
    const tracker = new ClassTracker(0);
    const states = new Map<number, unknown>();
    for (let n = 1; n <= 30; n++) states.set(n, state(n));
    states.set(99, { user: { id: 'x'.repeat(26), name: 'Mallory' }, lab: { hash: '<script>' } });
    states.set(100, { lab: 'junk' });
    let html = render(states, 0, tracker);
    expect(html.match(/<th scope="row">/g)).toHaveLength(30);
    expect(html).toContain('>Converged<');
    expect(html).toContain('-5 min');
    expect(html).not.toContain('Mallory');
    // Names are text, never markup.
    expect(html).not.toContain('<b>');
    expect(html).toContain('Student &lt;b&gt;7&lt;/b&gt;');

    states.set(17, state(17, '0000ffff'));
    states.delete(4);
    html = render(states, 1000, tracker);
    expect(html).toContain('>Not converged<');
    expect(html).toContain('2 different contents among 30 participants');
    expect(html).toContain('offline for 0 ms');
  });
});
