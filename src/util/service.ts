/**
 * Spread service levels (the low six bits of a message `type`, sp.h). The ring carries every
 * level; see src/ring for the delivery rule each one gets.
 */
export const Service = {
  UNRELIABLE: 0x01,
  RELIABLE: 0x02,
  FIFO: 0x04,
  CAUSAL: 0x08,
  AGREED: 0x10,
  SAFE: 0x20,
} as const;

export type ServiceLevel = (typeof Service)[keyof typeof Service];

export const SERVICE_NAMES: Readonly<Record<ServiceLevel, string>> = {
  0x01: 'UNRELIABLE',
  0x02: 'RELIABLE',
  0x04: 'FIFO',
  0x08: 'CAUSAL',
  0x10: 'AGREED',
  0x20: 'SAFE',
};

export function isServiceLevel(x: number): x is ServiceLevel {
  return x === 0x01 || x === 0x02 || x === 0x04 || x === 0x08 || x === 0x10 || x === 0x20;
}

export function parseServiceName(name: string): ServiceLevel | undefined {
  const upper = name.toUpperCase();
  for (const [bits, n] of Object.entries(SERVICE_NAMES)) {
    if (n === upper) return Number(bits) as ServiceLevel;
  }
  return undefined;
}
