import { describe, expect, it } from 'vitest';
import { SHIVIZ_REGEX } from '../../shared/lab/shiviz.js';
import { HistoryRecorder } from '../history.js';
import { historyToShiViz } from './historyShiViz.js';

describe('LAB-6 ShiViz log of an experiment', () => {
  it('sends and deliveries to other clients become send and receive events with consistent vector clocks', () => {
    let t = 0;
    const rec = new HistoryRecorder(
      {
        scenario: { name: 's', file: null, slo: null },
        seed: 1,
        options: {},
        clients: [
          { id: 'c0', authorId: 'a'.repeat(26), name: 'c0' },
          { id: 'c1', authorId: 'b'.repeat(26), name: 'c1' },
        ],
      },
      () => t++,
    );
    const hlc = { wall: 1, counter: 0, node: 'n' };
    rec.send('c0', { msgId: 'm1', replyTo: null, wall: 1, hlc, text: 'hello' });
    rec.deliver('c0', 'm1');
    rec.deliver('c1', 'm1');
    rec.send('c1', { msgId: 'm2', replyTo: 'm1', wall: 2, hlc, text: 'hi' });
    rec.deliver('c0', 'm2');
    const re = new RegExp(SHIVIZ_REGEX, 'g');
    const lines = historyToShiViz(rec.history()).split('\n');
    const events = [...lines.slice(2).join('\n').matchAll(re)].map((m) => [
      m.groups!.event,
      m.groups!.host,
      JSON.parse(m.groups!.clock!) as unknown,
    ]);
    expect(events).toEqual([
      ['send hello (m1)', 'c0', { c0: 1 }],
      ['receive hello (m1)', 'c1', { c0: 1, c1: 1 }],
      ['send hi (m2)', 'c1', { c0: 1, c1: 2 }],
      ['receive hi (m2)', 'c0', { c0: 2, c1: 2 }],
    ]);
  });
});
