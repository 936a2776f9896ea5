/**
 * Tests that need a binary from a Debian package skip with a printed reason
 * when it is missing locally, and fail when CI=true (`.ci/apt-tools` installs it).
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The path of `name` on PATH (or /usr/bin), or undefined; throws in CI when it is missing. */
export function aptBinary(name: string, debianPackage: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin', '/usr/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  if (process.env.CI === 'true') {
    throw new Error(`${name} is required in CI (Debian package '${debianPackage}', installed by .ci/apt-tools)`);
  }
  console.log(`skipping tests that need ${name}: not installed (apt-get install -y ${debianPackage})`);
  return undefined;
}
