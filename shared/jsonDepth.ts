/**
 * Nesting depth of a JSON text, found by scanning (no parse, no recursion), so a hostile
 * `[[[[…` twenty thousand deep is refused before JSON.parse or a later JSON.stringify can
 * overflow a stack (it killed the reference server). Brackets inside strings do not count.
 */
export const jsonNestingDepth = (text: string): number => {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      depth++;
      if (depth > max) max = depth;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return max;
};

/** True when `text` is valid JSON nested at most `maxDepth` deep. */
export const isBoundedJson = (text: string, maxDepth: number): boolean => {
  if (jsonNestingDepth(text) > maxDepth) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};
