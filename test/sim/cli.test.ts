import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerSimCommand } from '../../src/cli/sim-command.js';
import type { EngineFactory } from '../../src/sim/simulator.js';
import { DuplicatingEngine } from './fake-engines.js';

const savedExitCode = process.exitCode;

async function runCli(args: string[], factory?: EngineFactory): Promise<{ out: string; exitCode: number | string | undefined }> {
  const chunks: string[] = [];
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    chunks.push(String(c));
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  process.exitCode = undefined;
  try {
    const program = new Command('ringcast').exitOverride();
    registerSimCommand(program, factory);
    await program.parseAsync(['node', 'ringcast', 'sim', ...args]);
    return { out: chunks.join(''), exitCode: process.exitCode };
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.exitCode = savedExitCode;
  }
}

afterEach(() => {
  process.exitCode = savedExitCode;
});

describe('ringcast sim', () => {
  it('runs one seed against the Totem engine and prints a summary', async () => {
    const r = await runCli(['--seed', '3', '--daemons', '3', '--steps', '2', '--partitions']);
    expect(r.out).toMatch(/^seed 3: ok/);
    expect(r.out).toContain('partitions=true crashes=false');
    expect(r.exitCode).toBeUndefined();
  });

  it('prints JSON', async () => {
    const r = await runCli(['--seed', '4', '--daemons', '3', '--steps', '1', '--json']);
    const j = JSON.parse(r.out) as { seed: number; ok: boolean; logHash: string };
    expect(j.seed).toBe(4);
    expect(j.ok).toBe(true);
    expect(j.logHash).toMatch(/^[0-9a-f]{16}$/);
  });

  it('sweeps, names the failing seeds and exits non-zero', async () => {
    const r = await runCli(['--seeds', '0..2', '--daemons', '3', '--steps', '1'], (o) => new DuplicatingEngine(o));
    expect(r.out).toMatch(/seed 0: VIOLATED .*delivery-in-one-configuration/);
    expect(r.out).toMatch(/failing seeds: 0 \(.*\) 1 \(.*\) 2 \(/);
    expect(r.exitCode).toBe(1);
  });

  it('refuses bad arguments', async () => {
    await expect(runCli(['--seeds', '9..3'])).rejects.toThrow(/seeds must be A..B/);
    await expect(runCli(['--loss', '0.5'])).rejects.toThrow(/loss and corruption must be/);
    await expect(runCli(['--daemons', '40'])).rejects.toThrow(/daemons must be/);
  });
});
