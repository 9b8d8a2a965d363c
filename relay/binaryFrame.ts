/**
 * A websocket data frame as a server sends it (RFC 6455 §5.2): FIN set, binary opcode, no mask,
 * no extension bits, header and payload in one buffer. relay/server.ts builds it once per
 * broadcast and writes the same bytes to every socket of the room; `ws.send` would build a
 * header and write two buffers for each recipient. relay/binaryFrame.test.ts checks the bytes
 * against `ws`'s own framing.
 */
export const binaryFrame = (payload: Uint8Array): Buffer => {
  const n = payload.length;
  const header = n < 126 ? 2 : n < 0x10000 ? 4 : 10;
  const out = Buffer.allocUnsafe(header + n);
  out[0] = 0x82; // FIN + opcode 2 (binary)
  if (n < 126) out[1] = n;
  else if (n < 0x10000) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 127;
    out.writeUInt32BE(Math.floor(n / 0x100000000), 2);
    out.writeUInt32BE(n >>> 0, 6);
  }
  out.set(payload, header);
  return out;
};
