/**
 * binaryFrame builds exactly the bytes `ws` itself sends for a binary message from a server (its
 * `Sender.frame`), at every length encoding: 7-bit, 16-bit and 64-bit. If a `ws` upgrade changed its framing, this fails before a client sees it.
 */
import { describe, expect, it } from 'vitest';
import * as ws from 'ws';
import { binaryFrame } from './binaryFrame.js';

interface FrameOptions {
  readonly fin: boolean;
  readonly opcode: number;
  readonly mask: boolean;
  readonly readOnly: boolean;
  readonly rsv1: boolean;
}
/** Not in @types/ws, but exported by ws (`export { Sender }` in its ESM wrapper). */
const wsFrame = (ws as unknown as { Sender: { frame(this: void, data: Buffer, options: FrameOptions): Buffer[] } })
  .Sender.frame;

describe('binaryFrame', () => {
  it('matches ws framing for every length encoding', () => {
    for (const n of [0, 1, 125, 126, 127, 65_535, 65_536, 70_000, 1_048_576]) {
      const payload = Buffer.alloc(n, n % 251);
      const expected = Buffer.concat(
        wsFrame(Buffer.from(payload), { fin: true, opcode: 2, mask: false, readOnly: true, rsv1: false }),
      );
      expect(binaryFrame(payload).equals(expected), `length ${n}`).toBe(true);
    }
  });

  it('copies the payload: the frame does not change when the source does', () => {
    const payload = new Uint8Array([1, 2, 3]);
    const frame = binaryFrame(payload);
    payload[0] = 9;
    expect([...frame]).toEqual([0x82, 3, 1, 2, 3]);
  });
});
