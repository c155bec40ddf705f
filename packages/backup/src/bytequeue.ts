/** FIFO of bytes that hands out exact-size slices without re-concatenating everything. */
export class ByteQueue {
  private parts: Buffer[] = [];
  private head = 0; // offset into parts[0]
  length = 0;

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.parts.push(b);
    this.length += b.length;
  }

  /** Remove and return exactly `n` bytes (n <= length), in `into` (reused by the caller) when given. */
  take(n: number, into?: Buffer): Buffer {
    if (n > this.length) throw new RangeError('ByteQueue.take beyond length');
    const out = into && into.length >= n ? into.subarray(0, n) : Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const p = this.parts[0]!;
      const avail = p.length - this.head;
      const m = Math.min(avail, n - filled);
      p.copy(out, filled, this.head, this.head + m);
      filled += m;
      this.head += m;
      if (this.head === p.length) {
        this.parts.shift();
        this.head = 0;
      }
    }
    this.length -= n;
    return out;
  }
}
