import { expect, it } from 'vitest';
import { utf8Length } from './utf8Length.js';

it('counts UTF-8 bytes as TextEncoder does, lone surrogates included', () => {
  for (const s of ['', 'plain', 'Café', '€€', '👍👨‍👩‍👧', '\ud800 lone', 'x\udc00', '\ud800\ud800', '\ud83d']) {
    expect(utf8Length(s), JSON.stringify(s)).toBe(new TextEncoder().encode(s).length);
  }
});
