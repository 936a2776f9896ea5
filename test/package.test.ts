/**
 * skein from outside its repository: the tarball `npm pack` makes, installed into a
 * fresh strict ESM app, type-checked, unit-tested with `skein/testing`, served with
 * `npx skein serve` and required from a CommonJS app.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient } from './helpers/client.js';
import { exec, packedApp } from './helpers/packed-app.js';
import { ROOT, startServer } from './helpers/server.js';

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

const PROTOCOL = `import { Factory, LineReceiver, TimeoutMixin } from 'skein';

/** Echoes lines; closes a connection idle for 30 s. */
export class Echo extends TimeoutMixin(LineReceiver) {
  override connectionMade(): void {
    this.setTimeout(30);
    this.sendLine('hello');
  }
  override lineReceived(line: Buffer): void {
    this.resetTimeout();
    this.sendLine(\`echo: \${line.toString()}\`);
  }
}

export default Factory.forProtocol(Echo);
`;

const PROTOCOL_TEST = `import { connectProtocol } from 'skein/testing';
import { expect, it } from 'vitest';
import { Echo } from './proto.js';

it('echoes lines however they are split, and times out when idle', () => {
  for (const chunkSize of [1, 2, 3, 100]) {
    const h = connectProtocol(new Echo());
    h.receive('a\\r\\nb\\r\\n', { chunkSize });
    expect(h.written()).toBe('hello\\r\\necho: a\\r\\necho: b\\r\\n');
  }
  const idle = connectProtocol(new Echo());
  idle.advance(30);
  expect(idle.errorCodes).toEqual(['SKEIN_ERR_IDLE_TIMEOUT']);
});
`;

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
    expect(files.filter((f) => !/^(dist|src|config)\/|^(LICENSE|README\.md|CHANGELOG\.md|package\.json)$/.test(f))).toEqual([]);
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

  it('type-checks, unit-tests and serves a protocol in a strict ESM app', async () => {
    const { app, bin } = await packedApp();
    const dir = join(app, 'first');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'proto.ts'), PROTOCOL);
    writeFileSync(join(dir, 'proto.test.ts'), PROTOCOL_TEST);
    // declaration: true, noImplicitOverride, skipLibCheck: false (see APP_TSCONFIG).
    await exec(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.', '--noEmit'], app);
    const vitest = await exec(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', 'first/'], app);
    expect(vitest).toMatch(/1 passed/);
    const server = await startServer(['./first/proto.ts', '--port', '0', '--workers', '1', '--metrics-port', '0'], { cwd: app, cli: bin });
    try {
      const c = await connectClient(server.port);
      c.write('from a client\r\n');
      await c.waitFor((t) => t === 'hello\r\necho: from a client\r\n');
      c.end();
    } finally {
      expect(await server.stop()).toBe(0);
    }
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
    await exec(process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '-p', app, '--noEmit'], app);
  });
});
