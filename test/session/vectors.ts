/**
 * Byte vectors from the annotated captures of real Spread 5.0.1 sessions
 * (shared/protocol/spread-capture-annotated.md, capture A streams 0..5 and capture C probes 1..13).
 */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/[^0-9a-fA-F]/g, '');
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

export function ascii(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, 'latin1'));
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

/** Name field: the string, NUL, then the given tail bytes (or zeros) up to 32 bytes. */
export function nameField(name: string, tail?: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  out.set(ascii(name));
  if (tail) out.set(tail, name.length);
  return out;
}

/** Capture A, stream 0: alice (spuser -u alice). */
export const aliceConnect = hex('05 00 01 01 05 61 6c 69 63 65');
export const authListNull = hex('05 4e 55 4c 4c 20');
export const authChoiceNull = concat(ascii('NULL'), new Uint8Array(86));
export const aliceAccept = hex('01 05 00 01 09 23 61 6c 69 63 65 23 64 31');

export const aliceJoinGrp1 = concat(
  hex('80 00 01 80'),
  nameField('#alice#d1'),
  hex('01 00 00 00 80 00 00 80 00 00 00 00'),
  nameField('grp1'),
);
export const aliceSafeGrp1 = concat(
  hex('a0 00 00 80'),
  nameField('#alice#d1'),
  hex('01 00 00 00 80 01 00 80 11 00 00 00'),
  nameField('grp1'),
  ascii('hello from alice\n'),
);
export const aliceSafeToBob = concat(
  hex('a0 00 00 80'),
  nameField('#alice#d1'),
  hex('01 00 00 00 80 01 00 80 0f 00 00 00'),
  nameField('#bob#d1'),
  ascii('private to bob\n'),
);
export const aliceLeaveGrp1 = concat(
  hex('80 00 02 80'),
  nameField('#alice#d1'),
  hex('01 00 00 00 80 00 00 80 00 00 00 00'),
  nameField('grp1'),
);
/** KILL with libspread's uninitialised stack bytes after the NUL (§6.4). */
export const aliceKill = concat(
  hex('80 00 04 80'),
  nameField('#alice#d1'),
  hex('01 00 00 00 80 00 00 80 00 00 00 00'),
  nameField('#alice#d1', hex('00 ee 1b 86 55 00 00 00 00 00 00 00 00 00 00 06 00 00 00 00 00 00 00')),
);

/** Capture A, stream 2: carol (membership off), two AGREED then KILL back-to-back. */
export const carolConnect = hex('05 00 01 00 05 63 61 72 6f 6c');
export const carolAccept = hex('01 05 00 01 09 23 63 61 72 6f 6c 23 64 31');
export function carolAgreed(n: number): Uint8Array {
  return concat(
    hex('90 00 00 80'),
    nameField('#carol#d1'),
    hex('01 00 00 00 80 00 00 80 18 00 00 00'),
    nameField('grp1'),
    hex(`0${n} 00 00 00`),
    ascii('x'.repeat(20)),
  );
}
export const carolKill = concat(
  hex('80 00 04 80'),
  nameField('#carol#d1'),
  hex('01 00 00 00 80 00 00 80 00 00 00 00'),
  nameField('#carol#d1', hex('00 00 00 00 00 00 00 e0 b1 ab b4 41 56 00 00 8c a5 f2 75 65 7f 00 00')),
);

/** Capture A, stream 3: spuser -r (name_len 0); the daemon assigned r7833-12. */
export const randomConnect = hex('05 00 01 01 00');
export const randomAccept = hex('01 05 00 01 0c 23 72 37 38 33 33 2d 31 32 23 64 31');

/** Capture A, stream 4: a second "alice". */
export const rejectNotUnique = hex('fa');

/** Capture C probes 1-4: older libraries. */
export const v313Connect = hex('03 0d 01 06 6f 6c 64 33 31 33');
export const v313Accept = hex('01 05 00 0a 23 6f 6c 64 33 31 33 23 64 31');
export const v315Connect = hex('03 0f 00 01 06 6f 6c 64 33 31 35');
export const v315Accept = hex('01 05 00 01 0a 23 6f 6c 64 33 31 35 23 64 31');
export const v316Connect = hex('03 10 00 01 04 76 33 31 36');
export const v316Accept = hex('01 05 00 01 08 23 76 33 31 36 23 64 31');
export const v30Connect = hex('03 00 01 04 6f 6c 64 32');
/** Probes 5, 6, 9, 11. */
export const spaceNameConnect = hex('05 00 01 01 08 62 61 64 20 6e 61 6d 65');
export const longNameConnect = hex('05 00 01 01 0b 61 62 63 64 65 66 67 68 69 6a 6b');
export const authChoiceFoo = concat(ascii('FOO'), new Uint8Array(87));
export const authChoiceEmpty = new Uint8Array(90);

/** A 90-byte auth choice naming these methods (slots of 30 bytes, NUL padded). */
export function authChoiceFromNames(names: string[]): Uint8Array {
  const out = new Uint8Array(90);
  names.forEach((n, i) => out.set(ascii(n), i * 30));
  return out;
}
