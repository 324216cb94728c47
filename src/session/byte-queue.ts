/**
 * A FIFO of received bytes for the session state machine: chunks are kept as given and only
 * copied when a record spans several of them, so feeding one byte at a time or a whole burst
 * costs the same per byte.
 */
export class ByteQueue {
  private chunks: Uint8Array[] = [];
  /** Index of the first live chunk (consumed ones are dropped in batches, not shifted one by one). */
  private first = 0;
  /** Read position inside chunks[first]. */
  private head = 0;
  private total = 0;

  get length(): number {
    return this.total;
  }

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.chunks.push(bytes);
    this.total += bytes.length;
  }

  /** The byte at `index` from the front; undefined past the end. */
  at(index: number): number | undefined {
    if (index < 0 || index >= this.total) return undefined;
    let i = index + this.head;
    for (let k = this.first; k < this.chunks.length; k++) {
      const c = this.chunks[k] as Uint8Array;
      if (i < c.length) return c[i];
      i -= c.length;
    }
    return undefined;
  }

  /** The first `n` bytes without consuming them (a fresh copy when they span chunks). */
  peek(n: number): Uint8Array | undefined {
    if (n < 0 || n > this.total) return undefined;
    const front = this.chunks[this.first];
    if (front !== undefined && front.length - this.head >= n) return front.subarray(this.head, this.head + n);
    return this.copyFront(n);
  }

  /** Removes and returns the first `n` bytes as an independent copy (safe to keep). */
  take(n: number): Uint8Array | undefined {
    if (n < 0 || n > this.total) return undefined;
    const out = this.copyFront(n);
    this.skip(n);
    return out;
  }

  skip(n: number): void {
    let left = Math.max(0, Math.min(n, this.total));
    this.total -= left;
    while (left > 0) {
      const front = this.chunks[this.first];
      if (front === undefined) break;
      const avail = front.length - this.head;
      if (left < avail) {
        this.head += left;
        break;
      }
      left -= avail;
      this.first++;
      this.head = 0;
    }
    if (this.first === this.chunks.length) {
      this.chunks = [];
      this.first = 0;
    } else if (this.first > 64 && this.first * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }

  clear(): void {
    this.chunks = [];
    this.first = 0;
    this.head = 0;
    this.total = 0;
  }

  private copyFront(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    let start = this.head;
    for (let k = this.first; k < this.chunks.length && filled < n; k++) {
      const c = this.chunks[k] as Uint8Array;
      const part = Math.min(c.length - start, n - filled);
      out.set(c.subarray(start, start + part), filled);
      filled += part;
      start = 0;
    }
    return out;
  }
}
