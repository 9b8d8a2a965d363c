import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { TEXT_LIMIT } from '../../shared/chat/chatRoom.js';
import { CLOCK_AHEAD_TOLERANCE_MS } from '../../shared/chat/hlc.js';
import { CharCounter } from './CharCounter.js';
import { formatDuration, formatPreciseDuration } from './format.js';
import { describeUpload } from './describeUpload.js';
import { clockAheadTag } from './MessageItem.js';
import { splitLinks } from './richText.js';
import { parseRoute, roomOfLink } from './router.js';

describe('splitLinks: only http(s) URLs become links', () => {
  it('keeps plain text as one part', () => {
    expect(splitLinks('hello <b>world</b>')).toEqual([{ kind: 'text', text: 'hello <b>world</b>' }]);
  });

  it('links http and https URLs and leaves sentence punctuation outside', () => {
    expect(splitLinks('see https://example.com/a?b=1. and http://x.org!')).toEqual([
      { kind: 'text', text: 'see ' },
      { kind: 'link', text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' },
      { kind: 'text', text: '. and ' },
      { kind: 'link', text: 'http://x.org', href: 'http://x.org/' },
      { kind: 'text', text: '!' },
    ]);
  });

  it('keeps a closing parenthesis that belongs to the URL', () => {
    const parts = splitLinks('(see https://en.wikipedia.org/wiki/Foo_(bar))');
    expect(parts[1]).toEqual({
      kind: 'link',
      text: 'https://en.wikipedia.org/wiki/Foo_(bar)',
      href: 'https://en.wikipedia.org/wiki/Foo_(bar)',
    });
    expect(parts[2]).toEqual({ kind: 'text', text: ')' });
  });

  it('never links other schemes', () => {
    for (const t of ['javascript:alert(1)', 'data:text/html,<script>x</script>', 'file:///etc/passwd', 'vbscript:x']) {
      expect(splitLinks(t).every((p) => p.kind === 'text')).toBe(true);
    }
  });
});

describe('parseRoute', () => {
  it('maps paths to screens', () => {
    expect(parseRoute('/')).toEqual({ name: 'lobby' });
    expect(parseRoute('/r/abc-1')).toEqual({ name: 'room', room: 'abc-1' });
    expect(parseRoute('/r/abc-1/')).toEqual({ name: 'room', room: 'abc-1' });
    expect(parseRoute('/lab/abc')).toEqual({ name: 'lab', room: 'abc' });
    expect(parseRoute('/r/.hidden')).toEqual({ name: 'bad-room', room: '.hidden' });
    expect(parseRoute('/r/a%20b')).toEqual({ name: 'bad-room', room: 'a b' });
    expect(parseRoute('/elsewhere')).toEqual({ name: 'not-found', path: '/elsewhere' });
  });
});

describe('roomOfLink: the lobby takes a pasted room link', () => {
  const origin = 'http://127.0.0.1:8787';
  it('a link to a room (or its lab) of this origin is that room', () => {
    expect(roomOfLink(`${origin}/r/abc-1`, origin)).toEqual({ room: 'abc-1' });
    expect(roomOfLink(`${origin}/r/abc-1/?x=1#y`, origin)).toEqual({ room: 'abc-1' });
    expect(roomOfLink(`${origin}/lab/abc`, origin)).toEqual({ room: 'abc' });
  });
  it('a link to another origin is named, not followed', () => {
    expect(roomOfLink('http://127.0.0.1:8788/r/abc', origin)).toEqual({ otherOrigin: 'http://127.0.0.1:8788' });
    expect(roomOfLink('https://example.com/r/abc', origin)).toEqual({ otherOrigin: 'https://example.com' });
  });
  it('anything else is no link: a plain name, another path, a bad room, another scheme', () => {
    for (const text of ['abc', 'my room', `${origin}/`, `${origin}/r/.x`, `${origin}/r/a/b`, 'javascript:alert(1)']) {
      expect(roomOfLink(text, origin), text).toBeNull();
    }
  });
});

describe('formatDuration', () => {
  it('picks a readable unit', () => {
    expect(formatDuration(1000)).toBe('1 second');
    expect(formatDuration(5 * 60_000)).toBe('5 minutes');
    expect(formatDuration(3 * 3600_000)).toBe('3 hours');
    expect(formatDuration(3 * 86400_000)).toBe('3 days');
  });
});

describe('describeUpload (UP-2)', () => {
  it('UP-2: says how much of what is sent, for about how long, and why not faster', () => {
    const MiB = 1024 * 1024;
    expect(
      describeUpload({ sentBytes: 3 * MiB, totalBytes: 40.4 * MiB, remainingMs: 23_400, bytesPerSecond: 2 * MiB }),
    ).toBe(
      'Sending what the relay does not have yet: 3 MiB of 40 MiB, about 23 seconds left. The relay takes 2 MiB a ' +
        'second from one connection; if the connection ends first, the rest is sent on the next one.',
    );
    expect(
      describeUpload({ sentBytes: 0.25 * MiB, totalBytes: 5 * MiB, remainingMs: 0, bytesPerSecond: 256 * 1024 }),
    ).toMatch(
      /^Sending what the relay does not have yet: 0\.3 MiB of 5 MiB, about 1 second left\. The relay takes 0\.3 MiB a second/,
    );
  });
});

describe('HLC-4: the "clock ahead" tag', () => {
  const at = (wall: number, hlcWall: number, clockAheadMs: number, own = false) => ({
    wall,
    hlc: { wall: hlcWall, counter: 0, node: 'n' },
    clockAheadMs,
    own,
  });

  it('says nothing for a message up to the tolerance ahead (clock drift)', () => {
    expect(clockAheadTag(at(1000, 1000, 300))).toBeNull();
    expect(clockAheadTag(at(1000, 1000, CLOCK_AHEAD_TOLERANCE_MS))).toBeNull();
  });

  it('states the amount precisely: 90 s is 1 minute 30 seconds', () => {
    expect(formatPreciseDuration(90_000)).toBe('1 minute 30 seconds');
    expect(formatPreciseDuration(86_399_800)).toBe('1 day');
    expect(formatPreciseDuration(86_399_000)).toBe('23 hours 59 minutes 59 seconds');
    expect(formatPreciseDuration(2_000)).toBe('2 seconds');
    expect(clockAheadTag(at(1000, 1000, 90_000))!.label).toBe(
      '⚠ sent 1 minute 30 seconds ahead of this device’s clock',
    );
  });

  it('a message whose HLC is ahead of its own sender’s clock is "ordered as if sent" that far ahead, not "sent"', () => {
    const day = 86_400_000;
    const t = clockAheadTag(at(1000, 1000 + day, day))!;
    expect(t.label).toBe('⚠ ordered as if sent 1 day ahead of this device’s clock');
    expect(t.title).toContain('1 day ahead of the time shown (its sender’s clock)');
    expect(clockAheadTag(at(1000, 1000 + day, day, true))!.title).toContain('(this device’s clock): this device’s HLC');
  });
});

describe('STRUCT-1: the message counter counts against what sending checks', () => {
  const counter = (text: string, byteLimit: number | null): string =>
    renderToStaticMarkup(createElement(CharCounter, { id: 'c', text, byteLimit })).replace(/<[^>]*>/g, '');

  it('STRUCT-1 counts characters alone while the relay limits are unknown or cannot be reached', () => {
    expect(counter('a'.repeat(3600), null)).toBe(`3600 / ${TEXT_LIMIT} characters`);
    expect(counter('a'.repeat(TEXT_LIMIT + 2), 12_000)).toBe(
      `${TEXT_LIMIT + 2} / ${TEXT_LIMIT} characters — 2 too many`,
    );
  });

  it('STRUCT-1 counts bytes too when the relay passes on fewer than a message within the limit can take', () => {
    // 3,600 characters are within CHAT-2's limit, not within this relay's 3,520 bytes.
    expect(counter('a'.repeat(3600), 3520)).toBe(
      `3600 / ${TEXT_LIMIT} characters, 3600 / 3520 bytes — 80 bytes too many`,
    );
    expect(counter('€'.repeat(1000), 3520)).toBe(`1000 / ${TEXT_LIMIT} characters, 3000 / 3520 bytes`);
    expect(counter('a'.repeat(TEXT_LIMIT + 1), 3520)).toBe(
      `${TEXT_LIMIT + 1} / ${TEXT_LIMIT} characters, ${TEXT_LIMIT + 1} / 3520 bytes — 1 character and ${TEXT_LIMIT + 1 - 3520} bytes too many`,
    );
  });
});
