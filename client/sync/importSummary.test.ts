import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { ChatRoom, type Identity } from '../../shared/chat/chatRoom.js';
import { HybridClock } from '../../shared/chat/hlc.js';
import { newId } from '../../shared/ids.js';
import { describeImport } from '../ui/describeImport.js';
import { beginImport, type ImportSummary } from './importSummary.js';

const randomBytes = (n: number): Uint8Array => new Uint8Array(nodeRandomBytes(n));
const ann: Identity = { id: newId(randomBytes), name: 'Ann' };
const ben: Identity = { id: newId(randomBytes), name: 'Ben' };

/** A replica of the room with its own clock (`at` ms), as a device or a tab holds it. */
const replica = (at = 1_000_000): ChatRoom =>
  new ChatRoom(new Y.Doc(), new HybridClock(newId(randomBytes), () => at), randomBytes);

/** What importing `from`'s whole state (a room file's update) into `into` brought. */
const importInto = (into: ChatRoom, from: ChatRoom): ImportSummary => {
  const measure = beginImport(into);
  Y.applyUpdate(into.doc, Y.encodeStateAsUpdate(from.doc));
  return measure.finish();
};

const copy = (from: ChatRoom, into: ChatRoom): void => Y.applyUpdate(into.doc, Y.encodeStateAsUpdate(from.doc));

describe('FILE-2: what an import brought', () => {
  it('FILE-2: into an empty room, every message is new, and the title', () => {
    const file = replica();
    file.send(ann, 'one');
    file.send(ben, 'two');
    file.send(ann, 'three');
    file.setTitle(ann, 'Trip');
    expect(importInto(replica(), file)).toEqual({
      newMessages: 3,
      newDeleted: 0,
      changedMessages: 0,
      titleChanged: true,
      anythingNew: true,
    });
  });

  it('FILE-2: the same file again, or an older one, brings nothing', () => {
    const file = replica();
    file.send(ann, 'one');
    const older = replica();
    copy(file, older);
    file.react(ann, file.messages()[0]!.id, '👍', true);
    const device = replica();
    copy(file, device);
    const nothing = { newMessages: 0, newDeleted: 0, changedMessages: 0, titleChanged: false, anythingNew: false };
    expect(importInto(device, file)).toEqual(nothing);
    expect(importInto(device, older)).toEqual(nothing);
  });

  it('FILE-2: only what the device lacked counts: new messages, and changes to messages it had', () => {
    const device = replica();
    const kept = device.send(ann, 'kept as is');
    const edited = device.send(ann, 'to be edited');
    const deleted = device.send(ann, 'to be deleted');
    const reacted = device.send(ben, 'to get a reaction');
    const file = replica();
    copy(device, file);
    file.edit(ann, edited.id, 'edited elsewhere');
    file.remove(ann, deleted.id);
    file.react(ben, reacted.id, '🎉', true);
    file.send(ben, 'new one');
    file.send(ann, 'new two');
    // A message that arrives already deleted is no message to read.
    file.remove(ann, file.send(ann, 'new, then deleted').id);
    // Meanwhile the device wrote too: not the file's, not counted.
    device.send(ben, 'written here after the export');

    const summary = importInto(device, file);
    expect(summary).toEqual({
      newMessages: 2,
      newDeleted: 1,
      changedMessages: 3,
      titleChanged: false,
      anythingNew: true,
    });
    expect(device.messages().find((m) => m.id === kept.id)?.text).toBe('kept as is');
  });

  it('FILE-2: additions that change nothing shown (an edit older than the one shown) are told apart', () => {
    // Ann edits one message in two tabs; the device saw only the later edit.
    const tabEarly = replica(1_000_000);
    const message = tabEarly.send(ann, 'first words');
    const tabLate = replica(2_000_000);
    copy(tabEarly, tabLate);
    tabEarly.edit(ann, message.id, 'early edit');
    tabLate.edit(ann, message.id, 'late edit');
    const device = replica();
    copy(tabLate, device);
    expect(importInto(device, tabEarly)).toEqual({
      newMessages: 0,
      newDeleted: 0,
      changedMessages: 0,
      titleChanged: false,
      anythingNew: true,
    });
    expect(device.messages()[0]!.text).toBe('late edit');
  });

  it('FILE-2: a record the file lacks is not its doing; one it removed is a change', () => {
    const device = replica();
    const gone = device.send(ann, 'dropped by another replica');
    const file = replica();
    copy(device, file);
    // Not something the app does, but a replica may drop a record outright (see roomSession.test.ts).
    file.messagesMap.delete(gone.id);
    expect(importInto(device, file)).toEqual({
      newMessages: 0,
      newDeleted: 0,
      changedMessages: 1,
      titleChanged: false,
      anythingNew: true,
    });
  });

  it('FILE-2: the sentence says what was merged, or that the device had it all', () => {
    const none = { newMessages: 0, newDeleted: 0, changedMessages: 0, titleChanged: false, anythingNew: false };
    expect(describeImport('trip.converge', none)).toBe(
      'Imported trip.converge: nothing new — this device already had everything in the file.',
    );
    expect(describeImport('trip.converge', { ...none, anythingNew: true })).toBe(
      'Imported trip.converge: nothing new to show (what the file added changes nothing this room shows).',
    );
    expect(describeImport('trip.converge', { ...none, newMessages: 1, anythingNew: true })).toBe(
      'Imported trip.converge: 1 new message.',
    );
    expect(
      describeImport('t.converge', {
        ...none,
        newMessages: 3,
        changedMessages: 2,
        titleChanged: true,
        anythingNew: true,
      }),
    ).toBe('Imported t.converge: 3 new messages; 2 messages edited, deleted or reacted to; a new room title.');
    expect(describeImport('t.converge', { ...none, newMessages: 3, newDeleted: 1, anythingNew: true })).toBe(
      'Imported t.converge: 3 new messages; 1 message already deleted.',
    );
    expect(describeImport('t.converge', { ...none, changedMessages: 1, anythingNew: true })).toBe(
      'Imported t.converge: no new messages; 1 message edited, deleted or reacted to.',
    );
  });
});
