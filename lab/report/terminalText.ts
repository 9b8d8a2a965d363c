/**
 * Text from a history printed to a terminal: control characters (ESC, CR, BEL...) are replaced so
 * a hostile scenario name or id cannot move the cursor, recolour or clear the screen.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

export const terminalText = (s: string): string => s.replace(CONTROL, '�');
