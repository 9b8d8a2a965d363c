import { describe, expect, it } from 'vitest';
import { labPath, parseRoute } from '../router.js';
import { formatBytes, formatElapsed, hlcAheadNote } from './labFormat.js';

describe('lab formatting and the class view route', () => {
  it('formats heal times with sub-second precision, longer ones in words', () => {
    expect(formatElapsed(-5)).toBe('0 ms');
    expect(formatElapsed(520)).toBe('520 ms');
    expect(formatElapsed(3300)).toBe('3.3 s');
    expect(formatElapsed(5 * 60_000)).toBe('5 minutes');
  });

  it('formats sizes', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(3482)).toBe('3.4 KB');
    expect(formatBytes(1.5 * 1024 * 1024)).toBe('1.5 MB');
  });

  it('labPath leads to the class view of the same room', () => {
    expect(parseRoute(labPath('maths-101'))).toEqual({ name: 'lab', room: 'maths-101' });
    expect(parseRoute(labPath('a.b~c_d'))).toEqual({ name: 'lab', room: 'a.b~c_d' });
  });
});

describe('LAB-13: the note while the HLC is ahead of the clock', () => {
  it('says nothing within the tolerance, then how far, what it does and why', () => {
    expect(hlcAheadNote({ ms: 800, setBack: true })).toBeNull();
    expect(hlcAheadNote({ ms: 86_400_000, setBack: true })).toBe(
      'This device’s HLC is 1 day ahead of its clock: your messages keep sorting as if sent 1 day ahead, until real time catches up. An HLC never goes back (HLC-2): it keeps the latest time it gave a message or took from one before this device’s clock was set back.',
    );
    expect(hlcAheadNote({ ms: 45_000, setBack: false })).toContain(
      'it keeps the latest time it used or took from a message (up to 60 s ahead, HLC-3)',
    );
  });
});
