import { readFile } from 'node:fs/promises';

/**
 * Resident set size of process `pid` in MiB, read from `/proc/PID/status`
 * (Linux). Undefined where /proc is missing or the process is gone.
 */
export async function readRssMiB(pid: number): Promise<number | undefined> {
  let status: string;
  try {
    status = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match ? Number(match[1]) / 1024 : undefined;
}
