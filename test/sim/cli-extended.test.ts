import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerSimCommand } from '../../src/cli/sim-command.js';

const savedExitCode = process.exitCode;

async function runCli(args: string[]): Promise<{ out: string; exitCode: number | string | undefined }> {
  const chunks: string[] = [];
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    chunks.push(String(c));
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  process.exitCode = undefined;
  try {
    const program = new Command('ringcast').exitOverride();
    registerSimCommand(program);
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

describe('ringcast sim --crypto, --attacker, --groups', () => {
  it('an attacker against encrypted packets changes nothing, and the protection rejects its packets', async () => {
    const r = await runCli(['--seed', '3031', '--crypto', 'encrypt', '--attacker', 'impersonator', '--json']);
    const j = JSON.parse(r.out) as { ok: boolean; attack: { accepted: number; delivered: number; rejected: number } };
    expect(j.ok).toBe(true);
    expect(j.attack.accepted).toBe(0);
    expect(j.attack.delivered).toBeGreaterThan(0);
    expect(j.attack.rejected).toBeGreaterThanOrEqual(j.attack.delivered);
    expect(r.exitCode).toBeUndefined();
  }, 30_000);

  it('the same attacker without crypto fails the seed with a reproduce line', async () => {
    const r = await runCli(['--seed', '3031', '--crypto', 'none', '--attacker', 'impersonator']);
    expect(r.out).toMatch(/seed 3031: FAILED/);
    expect(r.out).toContain('reproduce: ringcast sim --seed 3031 --crypto none --attacker impersonator');
    expect(r.exitCode).toBe(1);
  }, 30_000);

  it('--groups reports the sessions, views and messages the group checker judged', async () => {
    const r = await runCli(['--seed', '3003', '--groups', '--json']);
    const j = JSON.parse(r.out) as { groups: { stats: { sessions: number; views: number; dataDeliveries: number } } };
    expect(j.groups.stats.sessions).toBeGreaterThan(3);
    expect(j.groups.stats.views).toBeGreaterThan(10);
    expect(j.groups.stats.dataDeliveries).toBeGreaterThan(10);
  }, 30_000);

  it('refuses an unknown crypto mode or attacker', async () => {
    await expect(runCli(['--seed', '1', '--crypto', 'rot13'])).rejects.toThrow(/crypto must be one of none, integrity, encrypt/);
    await expect(runCli(['--seed', '1', '--attacker', 'ghost'])).rejects.toThrow(/attacker must be one of outsider, impersonator/);
  });
});
