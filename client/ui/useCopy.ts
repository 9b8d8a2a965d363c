/** Copies text to the clipboard, with a fallback for browsers without the async clipboard API. */
import { useCallback, useEffect, useRef, useState } from 'react';

const copyText = async (text: string): Promise<boolean> => {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Fallback: a hidden textarea and the legacy copy command.
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    ta.remove();
    return ok;
  }
};

/** `[copy, feedback]`: `feedback` is "Link copied" (or a failure text) for a few seconds after `copy`. */
export const useCopy = (okText = 'Copied'): [(text: string) => void, string | null] => {
  const [feedback, setFeedback] = useState<string | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  const copy = useCallback(
    (text: string) => {
      void copyText(text).then((ok) => {
        setFeedback(ok ? okText : 'Could not copy: select the link and copy it yourself.');
        clearTimeout(timer.current);
        timer.current = setTimeout(() => setFeedback(null), 4000);
      });
    },
    [okText],
  );
  return [copy, feedback];
};
