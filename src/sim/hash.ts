/**
 * A running 64-bit digest of the event log (two independent 32-bit FNV-1a lanes), used to
 * compare runs byte for byte. Not cryptographic: it only has to tell different runs apart.
 */
export class LogDigest {
  private a = 0x811c9dc5;
  private b = 0x9dc5811c;
  private count = 0;

  get entries(): number {
    return this.count;
  }

  addString(s: string): void {
    let a = this.a;
    let b = this.b;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
    }
    this.a = a >>> 0;
    this.b = b >>> 0;
    this.count++;
  }

  addBytes(bytes: Uint8Array): void {
    let a = this.a;
    let b = this.b;
    a = Math.imul(a ^ bytes.length, 0x01000193);
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i] as number;
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
    }
    this.a = a >>> 0;
    this.b = b >>> 0;
  }

  hex(): string {
    return this.a.toString(16).padStart(8, '0') + this.b.toString(16).padStart(8, '0');
  }
}
