/**
 * skein from outside its repository: what the tarball `npm pack` makes holds, and
 * `require('skein')` from a CommonJS app. The same installed tarball type-checks,
 * unit-tests and serves every example (examples.test.ts), the docs' code
 * (docs.test.ts) and a new app from `skein init` (init.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exec, packedApp } from './helpers/packed-app.js';
import { ROOT } from './helpers/server.js';

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('the packed package', { timeout: 300_000 }, () => {
  it('holds dist with declarations and source maps that resolve, the sources, LICENSE and README', async () => {
    const { root, tarball } = await packedApp();
    const out = join(root, 'unpacked');
    mkdirSync(out, { recursive: true });
    execFileSync('tar', ['xzf', tarball, '-C', out]);
    const pkg = join(out, 'package');
    const files = walk(pkg).map((f) => relative(pkg, f));
    for (const f of ['LICENSE', 'README.md', 'CHANGELOG.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/testing.d.ts', 'dist/cli.js', 'src/index.ts']) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => !/^(dist|src|config|templates)\/|^(LICENSE|README\.md|CHANGELOG\.md|package\.json)$/.test(f))).toEqual([]);
    expect(readFileSync(join(pkg, 'LICENSE'), 'utf8')).toMatch(/MIT License[\s\S]*skein contributors/);
    const maps = files.filter((f) => f.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(50);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources, sourceRoot = '' } = JSON.parse(readFileSync(join(pkg, map), 'utf8')) as { sources: string[]; sourceRoot?: string };
      for (const s of sources) if (!existsSync(resolve(dirname(join(pkg, map)), sourceRoot, s))) missing.push(`${map} -> ${s}`);
    }
    expect(missing).toEqual([]);
    // A fresh clone has no dist/: packing must build it.
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.prepack).toMatch(/npm run build/);
  });

  it("require('skein') works from a CommonJS app (Node >= 20.19, require(esm))", async () => {
    const { app } = await packedApp();
    const dir = join(app, 'cjs');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'commonjs' }));
    writeFileSync(
      join(dir, 'main.cjs'),
      `const { Factory, LineReceiver } = require('skein');
const { connectProtocol } = require('skein/testing');
class Upper extends LineReceiver {
  lineReceived(line) { this.sendLine(line.toString().toUpperCase()); }
}
const h = connectProtocol(new Upper(), { factory: Factory.forProtocol(Upper) });
h.receive('hi\\r\\n');
process.stdout.write(h.written());
`,
    );
    const result = await exec(process.execPath, [join(dir, 'main.cjs')], dir);
    expect(result).toBe('HI\r\n');
    // TypeScript in a CommonJS package (\`.cts\`, module NodeNext) may import skein too: it compiles to require().
    writeFileSync(
      join(dir, 'types.cts'),
      `import { Factory, LineReceiver } from 'skein';
export class Upper extends LineReceiver {
  override lineReceived(line: Buffer): void { this.sendLine(line.toString().toUpperCase()); }
}
export const factory: Factory<Upper> = Factory.forProtocol(Upper);
`,
    );
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: '../tsconfig.json', include: ['*.cts'] }));
    await exec(process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '-p', dir], app);
  });
});
