/**
 * Tests that need a Debian tool (haproxy, promtool, prometheus) skip with a printed reason when it is
 * missing locally, and fail when CI=true (where .ci/apt-tools installs it).
 */
import { execFileSync } from 'node:child_process';

export function hasTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'pipe' });
    return true;
  } catch {
    if (process.env.CI === 'true') throw new Error(`${name} is required in CI (.ci/apt-tools installs it)`);
    console.warn(`skipping: ${name} is not installed (apt-get install it, or run .ci/apt-tools)`);
    return false;
  }
}
