/** FILE-2's sentence after an import, from what the import brought (../sync/importSummary.ts). */
import type { ImportSummary } from '../sync/importSummary.js';
import { plural } from './format.js';

/** The sentence shown after importing `fileName` (plain text: the name is the user's file's). */
export const describeImport = (fileName: string, s: ImportSummary): string => {
  const extras: string[] = [];
  // Not "edited, deleted or reacted to": this device never had them (a file of 4 messages, one
  // deleted, said "3 new messages; 1 message edited, deleted or reacted to").
  if (s.newDeleted > 0) extras.push(`${plural(s.newDeleted, 'message')} already deleted`);
  if (s.changedMessages > 0) extras.push(`${plural(s.changedMessages, 'message')} edited, deleted or reacted to`);
  if (s.titleChanged) extras.push('a new room title');
  if (s.newMessages === 0 && extras.length === 0) {
    return s.anythingNew
      ? `Imported ${fileName}: nothing new to show (what the file added changes nothing this room shows).`
      : `Imported ${fileName}: nothing new — this device already had everything in the file.`;
  }
  const messages = s.newMessages > 0 ? plural(s.newMessages, 'new message') : 'no new messages';
  return `Imported ${fileName}: ${[messages, ...extras].join('; ')}.`;
};
