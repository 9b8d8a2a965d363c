import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { ClassTracker, SETTLE_MS } from '../../lab/classTracker.js';
import { ClassViewContent } from './ClassView.js';

const state = (n: number, hash = '0000abcd'): unknown => ({
  user: { id: `s${String(n).padStart(25, '0')}`, name: `Student <b>${n}</b>` },
  typing: false,
  sv: [],
  lab: { faults: { skewMs: n === 3 ? -300_000 : 0 }, svSummary: 'abcd:12', svTotal: 12, hash, pending: 0, at: 0 },
});

const render = (states: Map<number, unknown>, now: number, tracker: ClassTracker, connected = true): string =>
  renderToStaticMarkup(
    createElement(ClassViewContent, { room: 'maths', snap: tracker.observe(states, now, connected) }),
  );

/** The text of the element whose opening tag contains `marker` (no nested element of the same tag). */
const textAt = (html: string, marker: string): string => {
  const start = html.indexOf(marker);
  const open = html.lastIndexOf('<', start);
  const tag = /^<(\w+)/.exec(html.slice(open))![1]!;
  const body = html.slice(html.indexOf('>', start) + 1, html.indexOf(`</${tag}>`, start));
  return body.replace(/<[^>]*>/g, '');
};

const chartLabel = (html: string): string => /role="img" aria-label="([^"]*)"/.exec(html)![1]!;

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
    render(states, 1000, tracker);
    // Held for SETTLE_MS: not an update in flight.
    html = render(states, 1000 + SETTLE_MS, tracker);
    expect(html).toContain('>Not converged<');
    expect(html).toContain('2 different contents among the 29 reachable participants');
    expect(html).toContain('Student &lt;b&gt;4&lt;/b&gt; is offline (last known state shown)');
    expect(html).toContain('offline for 3.0 s');
  });
});

describe('LAB-UI-1: the indicator and the chart say which verdict, the two unknowns apart', () => {
  it('LAB-UI-1 unknown, unreachable: says how many, who, and how their last state compared; the chart counts it apart', () => {
    const tracker = new ClassTracker(0);
    const states = new Map<number, unknown>([
      [1, state(1)],
      [2, state(2)],
    ]);
    let html = render(states, 0, tracker);
    expect(textAt(html, 'data-testid="verdict"')).toBe('Converged');
    states.delete(2);
    html = render(states, 1000, tracker);
    expect(textAt(html, 'data-testid="verdict"')).toBe('Unknown: 1 unreachable');
    expect(html).toContain('class="card class-indicator verdict-unreachable"');
    expect(html).toContain('<li>Student &lt;b&gt;2&lt;/b&gt; is offline — last seen with the same content</li>');
    expect(chartLabel(html)).toBe(
      'Of the time shown: converged 100 %, converging 0 %, not converged 0 %, unknown with someone unreachable 0 %, ' +
        'unknown with the view not connected or nobody here 0 %. The line is the number of different contents, last known ones included.',
    );
    html = render(states, 4000, tracker);
    expect(chartLabel(html)).toMatch(
      /^Of the time shown: converged 25 %, converging 0 %, not converged 0 %, unknown with someone unreachable 75 %,/,
    );
    expect(html).toContain('<rect class="band band-unreachable"');
  });

  it('LAB-UI-1 unknown (the view): "view not connected" is not "unreachable", in the indicator and the chart', () => {
    const tracker = new ClassTracker(0);
    const states = new Map<number, unknown>([[1, state(1)]]);
    render(states, 0, tracker);
    const html = render(states, 1000, tracker, false);
    expect(textAt(html, 'data-testid="verdict"')).toBe('Unknown: view not connected');
    expect(html).toContain('class="card class-indicator verdict-unknown"');
    expect(html).toContain('The class view is not connected to the relay');
    expect(chartLabel(html)).toMatch(
      /unknown with someone unreachable 0 %, unknown with the view not connected or nobody here 0 %/,
    );
    expect(textAt(render(new Map(), 0, new ClassTracker(0)), 'data-testid="verdict"')).toBe('Unknown: nobody here');
  });
});

describe('LAB-UI-3: the time measured and its label', () => {
  it('times Unknown (someone unreachable) as well as Not converged, and the label says both', () => {
    const tracker = new ClassTracker(0);
    const states = new Map<number, unknown>([
      [1, state(1)],
      [2, state(2)],
    ]);
    render(states, 0, tracker);
    // Offline for 3 s and back with the same content: never Not converged, only Unknown.
    states.delete(2);
    expect(textAt(render(states, 1000, tracker), 'data-testid="verdict"')).toBe('Unknown: 1 unreachable');
    states.set(2, state(2));
    const html = render(states, 4000, tracker);
    expect(textAt(html, 'data-testid="verdict"')).toBe('Converged');
    expect(html).toContain(
      '<dt>Last time not converged or unknown</dt><dd data-testid="last-not-converged">ended 0 ms ago, lasted 3.0 s</dd>',
    );
    expect(textAt(html, 'class="definition"')).toContain(
      '“Last time not converged or unknown” runs from the first Not converged or Unknown (someone unreachable) to the next Converged',
    );
  });
});

describe("the header and LAB-UI-8: who is where, in the rows' own words", () => {
  const withFaults = (n: number, faults: object, extra: object = {}): unknown => {
    const s = state(n) as { lab: object };
    return { ...s, lab: { ...s.lab, faults, ...extra } };
  };

  it('counts a partitioned participant as partitioned, not as offline (nor one just cut off as online)', () => {
    const tracker = new ClassTracker(0);
    const states = new Map<number, unknown>([
      [1, state(1)],
      [2, state(2)],
      [3, state(3)],
      [4, state(4)],
    ]);
    render(states, 0, tracker);
    states.set(2, withFaults(2, { partitioned: true }));
    states.set(3, withFaults(3, { dropPct: 100 }));
    render(states, 500, tracker);
    states.delete(2);
    states.delete(4);
    const html = render(states, 1000, tracker);
    expect(textAt(html, 'class="hint"')).toBe(
      '4 participants: 1 online, 1 partitioned, 1 dropping every frame, 1 offline · Open the room maths',
    );
  });

  it('LAB-UI-8 a participant reported cut off says so, with its approximate time away and who reported it', () => {
    const tracker = new ClassTracker(0);
    const reported = withFaults(2, { partitioned: true }) as { user: unknown; lab: unknown };
    const states = new Map<number, unknown>([
      [
        1,
        withFaults(1, {}, { at: 9000, cutOffPeers: [{ id: 2, user: reported.user, lab: reported.lab, left: 4000 }] }),
      ],
    ]);
    const html = render(states, 60_000, tracker);
    expect(textAt(html, 'class="hint"')).toBe('2 participants: 1 online, 1 partitioned · Open the room maths');
    expect(textAt(html, 'data-testid="verdict"')).toBe('Unknown: 1 unreachable');
    expect(html).toContain(
      '<td>partitioned, out of reach for about 5.0 s (left before this view opened; reported by Student &lt;b&gt;1&lt;/b&gt;)</td>',
    );
  });
});

describe('LAB-UI-7: the class view aligns the state vectors in columns', () => {
  const withSummary = (n: number, svSummary: string): unknown => {
    const s = state(n) as { lab: object };
    return { ...s, lab: { ...s.lab, svSummary } };
  };

  it('shows each client in one column, marks lagging clocks in words, and unknown ones apart', () => {
    const states = new Map<number, unknown>([
      [1, withSummary(1, 'aaaa:9 bbbb:4')],
      [2, withSummary(2, 'bbbb:7 aaaa:2 +1')],
      [3, withSummary(3, 'bbbb:7 <img src=x onerror=alert(1)>')],
    ]);
    const html = render(states, 0, new ClassTracker(0));
    expect(html).toContain('<th scope="colgroup" colSpan="3"');
    expect(html.match(/<th scope="col" class="sv-clock">/g)).toHaveLength(3); // aaaa, bbbb, Total
    const row = (n: number): string => html.split(`Student &lt;b&gt;${n}&lt;/b&gt;</th>`)[1]!.split('</tr>')[0]!;
    expect(row(1)).toContain('<td class="sv-clock">9</td>');
    expect(row(1)).toContain('4 <span aria-hidden="true">↓3</span><span class="visually-hidden">, behind by 3</span>');
    expect(row(2)).toContain('2 <span aria-hidden="true">↓7</span>');
    expect(row(2)).toContain('<td class="sv-clock">7</td>');
    // Participant 3's summary has a token that does not parse: aaaa is unknown, not 0.
    expect(row(3)).toContain('<td class="sv-clock sv-unknown">');
    expect(row(3)).toContain('<td class="sv-clock">12</td>'); // the total
    expect(html).not.toContain('<img');
  });
});

describe('LAB-UI-10: tabs of one user in the header, the rows and the state-vector columns', () => {
  it("LAB-UI-10 names each tab of a user with several, in its row and its client's column, and the header counts them as tabs", () => {
    const tracker = new ClassTracker(0);
    // Four tabs of Student 1, one of Student 2. The first tab writes with Yjs client …abcd.
    const states = new Map<number, unknown>([
      [0x1abcd, state(1)],
      [0xa2, state(1)],
      [0xa3, state(1)],
      [0xa4, state(1)],
      [0xb1, state(2)],
    ]);
    const html = render(states, 0, tracker);
    expect(textAt(html, 'class="hint"')).toBe(
      '5 participants (4 of them tabs of Student &lt;b&gt;1&lt;/b&gt;): 5 online · Open the room maths',
    );
    expect(html.match(/<th scope="row">[^<]*<\/th>/g)).toEqual([
      '<th scope="row">Student &lt;b&gt;1&lt;/b&gt; (tab 1)</th>',
      '<th scope="row">Student &lt;b&gt;1&lt;/b&gt; (tab 2)</th>',
      '<th scope="row">Student &lt;b&gt;1&lt;/b&gt; (tab 3)</th>',
      '<th scope="row">Student &lt;b&gt;1&lt;/b&gt; (tab 4)</th>',
      '<th scope="row">Student &lt;b&gt;2&lt;/b&gt;</th>',
    ]);
    // The state-vector column of that client names the tab writing with it.
    expect(html).toContain('<bdi>Student &lt;b&gt;1&lt;/b&gt; (tab 1)</bdi>');
  });
});

describe('LAB-UI-11: what the view cannot know of someone out of reach', () => {
  it('LAB-UI-11 the clock skew of a participant out of reach is not known, with what it was when last seen', () => {
    const tracker = new ClassTracker(0);
    const partitioned = (n: number): unknown => {
      const s = state(n) as { lab: { faults: object } };
      return { ...s, lab: { ...s.lab, faults: { ...s.lab.faults, partitioned: true } } };
    };
    const states = new Map<number, unknown>([
      [1, state(1)],
      [2, state(2)],
      [3, state(3)],
    ]);
    render(states, 0, tracker);
    states.set(2, partitioned(2));
    render(states, 500, tracker);
    states.delete(2);
    states.delete(3);
    const html = render(states, 1000, tracker);
    const skewOf = (n: number): string =>
      html
        .split(`Student &lt;b&gt;${n}&lt;/b&gt;</th>`)[1]!
        .split('</td>')[2]!
        .replace(/<[^>]*>/g, '');
    expect(skewOf(1)).toBe('0');
    // Student 2 left partitioned: a skew set since could not reach the view. Student 3 (-5 min) closed its tab.
    expect(skewOf(2)).toBe('not known (last seen: 0)');
    expect(skewOf(3)).toBe('not known (last seen: -5 min)');
  });
});

describe('LAB-UI-17: the view not connected calls nobody offline', () => {
  it('the header and the rows give each participant as last known, with no time offline', () => {
    const tracker = new ClassTracker(0);
    const states = new Map<number, unknown>([
      [1, state(1)],
      [2, state(2)],
    ]);
    render(states, 0, tracker);
    // The provider drops the states with its socket.
    tracker.observe(new Map(), 1000, false);
    const html = render(new Map(), 4000, tracker, false);
    expect(textAt(html, 'data-testid="verdict"')).toBe('Unknown: view not connected');
    expect(textAt(html, 'class="hint"')).toContain(
      '2 participants: not known while this view is not connected (last known: 2 online)',
    );
    expect(html.match(/not known, view not connected \(last known: online\)/g)).toHaveLength(2);
    expect(html).not.toContain('offline for');
    expect(html).not.toContain('class="offline"');
    expect(html).not.toMatch(/\d offline/);
  });
});

describe('LAB-UI-3: a running time not converged or unknown', () => {
  it('LAB-UI-3 reads "now, for …" while one runs (the first one too), never the previous one or "none seen yet"', () => {
    const tracker = new ClassTracker(0);
    const states = new Map<number, unknown>([
      [1, state(1)],
      [2, state(2)],
    ]);
    const last = (html: string): string => textAt(html, 'data-testid="last-not-converged"');
    render(states, 0, tracker);
    const one = new Map([[1, state(1)]]);
    expect(last(render(one, 1000, tracker))).toBe('now, for 0 ms');
    render(states, 1154, tracker);
    const html = render(one, 1300, tracker);
    expect(last(render(one, 13_900, tracker))).toBe('now, for 12.6 s');
    expect(textAt(html, 'data-testid="verdict"')).toBe('Unknown: 1 unreachable');
  });
});
