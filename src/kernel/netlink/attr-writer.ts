// Netlink attributes written straight into one growing buffer, for encoders of many small messages (an IPVS sync
// sends tens of thousands): a Buffer per attribute and per nest costs more than the kernel's work on the message.

// Local rather than imported from codec.ts: this is the hot path, and module bindings cost a call under tsx.
const NLA_HDRLEN = 4;
const align4 = (n: number): number => (n + 3) & ~3;

export class AttrWriter {
  private buf: Buffer;
  private off = 0;

  constructor(initialBytes = 4096) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.off;
  }

  /** A view of bytes [start, end) written so far; it stays valid when the writer grows later. */
  view(start: number, end = this.off): Buffer {
    return this.buf.subarray(start, end);
  }

  /** Raw bytes, padded with zeros to 4 (already-encoded attributes, a genl header). */
  raw(bytes: Uint8Array): this {
    const padded = align4(bytes.length);
    this.reserve(padded);
    this.buf.set(bytes, this.off);
    if (padded !== bytes.length) this.buf.fill(0, this.off + bytes.length, this.off + padded);
    this.off += padded;
    return this;
  }

  u8(type: number, value: number): this {
    this.header(type, 1).buf.writeUInt8(value & 0xff, this.off);
    return this.pad(1);
  }

  u16(type: number, value: number): this {
    this.header(type, 2).buf.writeUInt16LE(value & 0xffff, this.off);
    return this.pad(2);
  }

  /** A 16-bit value in network byte order (ports). */
  be16(type: number, value: number): this {
    this.header(type, 2).buf.writeUInt16BE(value & 0xffff, this.off);
    return this.pad(2);
  }

  /** A 32-bit value in network byte order (IPv4 masks). */
  be32(type: number, value: number): this {
    this.header(type, 4).buf.writeUInt32BE(value >>> 0, this.off);
    return this.pad(4);
  }

  u32(type: number, value: number): this {
    this.header(type, 4).buf.writeUInt32LE(value >>> 0, this.off);
    return this.pad(4);
  }

  bytes(type: number, value: Uint8Array): this {
    this.header(type, value.length).buf.set(value, this.off);
    return this.pad(value.length);
  }

  /** NUL-terminated string. */
  string(type: number, value: string): this {
    const size = Buffer.byteLength(value, 'utf8') + 1;
    this.header(type, size);
    this.buf.write(value, this.off, 'utf8');
    this.buf.writeUInt8(0, this.off + size - 1);
    return this.pad(size);
  }

  /** Opens a nested attribute; pass the returned offset to endNest once its children are written. */
  beginNest(type: number): number {
    const start = this.off;
    this.header(type, 0);
    return start;
  }

  endNest(start: number): this {
    this.buf.writeUInt16LE(this.off - start, start);
    return this;
  }

  /** Writes an attribute header for a value of `size` bytes and makes room for the padded value. */
  private header(type: number, size: number): this {
    this.reserve(NLA_HDRLEN + align4(size));
    this.buf.writeUInt16LE(NLA_HDRLEN + size, this.off);
    this.buf.writeUInt16LE(type, this.off + 2);
    this.off += NLA_HDRLEN;
    return this;
  }

  /** Zero-pads a `size`-byte value just written at the offset and moves past it. */
  private pad(size: number): this {
    const padded = align4(size);
    if (padded !== size) this.buf.fill(0, this.off + size, this.off + padded);
    this.off += padded;
    return this;
  }

  private reserve(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }
}
