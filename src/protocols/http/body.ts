/**
 * A request body as it arrives in pieces (a Content-Length body spread over
 * reads, the data of a chunked body): copied into blocks of at most
 * {@link BODY_BLOCK} bytes, allocated as bytes arrive, so what a connection
 * holds is what its client sent plus at most one block. Neither a declared
 * Content-Length (1 MiB announced, 3 bytes sent) nor doubling growth makes it
 * hold more; the pieces' read buffers are never kept.
 */

/** Bytes of one block: the most a body holds beyond its bytes while it arrives. */
export const BODY_BLOCK = 16 * 1024;
/** Bytes of a chunked body's first block (later ones double, up to {@link BODY_BLOCK}). */
const FIRST_BLOCK = 256;

export class BodyAccumulator {
  private blocks: Buffer[] = [];
  /** Bytes in the last block. */
  private fill = 0;
  private total = 0;

  /** Body bytes received so far. */
  get length(): number {
    return this.total;
  }

  /** Bytes allocated for them (the bytes, plus the unused end of the last block). */
  get retained(): number {
    const n = this.blocks.length;
    return n === 0 ? 0 : this.total - this.fill + this.blocks[n - 1]!.length;
  }

  /**
   * Copies `data[pos, pos + take)` in. `expected`, when known, is how many
   * more bytes the body has from `pos` (the rest of a Content-Length): a block
   * is then never larger than that. Otherwise (chunked) blocks grow with the
   * body, from {@link FIRST_BLOCK} up to {@link BODY_BLOCK}.
   */
  append(data: Buffer, pos: number, take: number, expected?: number): void {
    const end = pos + take;
    while (pos < end) {
      let block = this.blocks[this.blocks.length - 1];
      if (block === undefined || this.fill === block.length) {
        const size = expected === undefined ? Math.max(FIRST_BLOCK, this.total, end - pos) : expected;
        block = Buffer.allocUnsafe(Math.min(BODY_BLOCK, size));
        this.blocks.push(block);
        this.fill = 0;
      }
      const n = Math.min(block.length - this.fill, end - pos);
      data.copy(block, this.fill, pos, pos + n);
      this.fill += n;
      this.total += n;
      pos += n;
      if (expected !== undefined) expected -= n;
    }
  }

  /** The whole body in one buffer (its only full block as is, else one copy), and empties the accumulator. */
  take(): Buffer {
    const blocks = this.blocks;
    const total = this.total;
    const last = blocks[blocks.length - 1];
    const body = blocks.length === 1 && this.fill === last!.length ? last! : Buffer.concat(blocks, total);
    this.clear();
    return body;
  }

  /** Drops what was received. */
  clear(): void {
    this.blocks = [];
    this.fill = 0;
    this.total = 0;
  }
}
