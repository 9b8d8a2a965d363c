/**
 * `utf8Length(s)`: the bytes `s` takes in UTF-8, without encoding it, exactly as TextEncoder
 * writes it (a surrogate pair is 4 bytes, a lone surrogate 3: its U+FFFD). Used where a size is
 * checked against a limit: awareness states on the relay (AWR-1, AWR-7), message texts (STRUCT-1).
 */
export const utf8Length = (s: string): number => {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
};
