/** The `skein init` command: parses its arguments, writes the app, says what to do next. */
import { parseArgs } from 'node:util';
import { InvalidOptionError } from '../shared/protocol/errors.js';
import { initApp } from './init.js';

export const INIT_USAGE = `usage: skein init [DIR] [--force] [--skein-spec SPEC]

Writes a new skein app into DIR (default: the current folder), which must be empty unless --force:
an ESM package with a strict tsconfig, src/protocol.ts, its test (vitest, skein/testing), npm start
serving it on every core, a Dockerfile and Kubernetes manifests (k8s/).

  --force            write into a folder that is not empty (template files are overwritten)
  --skein-spec SPEC  the app's dependency on skein (default: ^<this version>; e.g. file:../skein-0.1.0.tgz)
`;

/**
 * Runs `skein init` with `args` (after `init`). Returns the exit code: 0 when the app was
 * written, 2 for a bad option or a folder that is not empty (one line on stderr).
 */
export function initMain(args: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): number {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { force: { type: 'boolean' }, 'skein-spec': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      out.write(INIT_USAGE);
      return 0;
    }
    if (positionals.length > 1) throw new InvalidOptionError(`expected at most one DIR, got: ${positionals.join(' ')}`);
    const dir = positionals[0] ?? '.';
    initApp({ dir, force: values.force ?? false, ...(values['skein-spec'] !== undefined ? { skeinSpec: values['skein-spec'] } : {}) });
    const cd = dir === '.' ? '' : `  cd ${dir}\n`;
    out.write(`Created a skein app in ${dir}. Next:\n${cd}  npm install\n  npm test\n  npm start        # serves src/protocol.ts on tcp 9000, every core\n`);
    return 0;
  } catch (error) {
    const message = (error as Error).message.split('\n')[0]!;
    err.write(`skein: ${message.replace(/^Unknown option/, 'unknown option')}\n`);
    return 2;
  }
}
