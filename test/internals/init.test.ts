import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { initApp, packageName } from '../../src/init/init.js';
import { initMain } from '../../src/init/main.js';

function sink(): Writable & { text: string } {
  const s = new Writable({
    write(chunk, _enc, done) {
      s.text += String(chunk);
      done();
    },
  }) as Writable & { text: string };
  s.text = '';
  return s;
}

describe('skein init', () => {
  it('writes an ESM app with a strict tsconfig, a protocol, its test, a Dockerfile and manifests', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'skein-init-')), 'My App');
    const files = initApp({ dir });
    for (const f of ['package.json', 'tsconfig.json', 'src/protocol.ts', 'test/protocol.test.ts', 'Dockerfile', '.dockerignore', '.gitignore', 'k8s/deployment.yaml', 'k8s/service.yaml', 'README.md']) {
      expect(files).toContain(f);
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(pkg).toMatchObject({ name: 'my-app', type: 'module', scripts: { start: 'skein serve src/protocol.ts' } });
    expect(pkg.dependencies.skein).toMatch(/^\^\d+\.\d+\.\d+/);
    expect(Object.keys(pkg.devDependencies).sort()).toEqual(['@types/node', 'typescript', 'vitest']);
    const tsconfig = JSON.parse(readFileSync(join(dir, 'tsconfig.json'), 'utf8'));
    expect(tsconfig.compilerOptions).toMatchObject({ strict: true, noImplicitOverride: true, module: 'NodeNext' });
    expect(readFileSync(join(dir, 'k8s/deployment.yaml'), 'utf8')).toContain('name: my-app');
    expect(readFileSync(join(dir, 'k8s/deployment.yaml'), 'utf8')).not.toContain('APP_NAME');
  });

  it('refuses a folder that is not empty without --force (exit 2, one line), and writes into it with --force', () => {
    const dir = mkdtempSync(join(tmpdir(), 'skein-init-'));
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    const err = sink();
    expect(initMain([dir], sink(), err)).toBe(2);
    expect(err.text).toBe(`skein: ${dir} is not empty (pass --force to write the app into it anyway)\n`);
    expect(existsSync(join(dir, 'package.json'))).toBe(false);
    const out = sink();
    expect(initMain([dir, '--force', '--skein-spec', 'file:../skein.tgz'], out, sink())).toBe(0);
    expect(out.text).toContain('npm install');
    expect(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).dependencies.skein).toBe('file:../skein.tgz');
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('answers a bad option or a file in place of the folder with exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'skein-init-'));
    const file = join(dir, 'f');
    writeFileSync(file, '');
    const err = sink();
    expect(initMain([file], sink(), err)).toBe(2);
    expect(err.text).toBe(`skein: ${file} exists and is not a folder\n`);
    const bad = sink();
    expect(initMain(['--frobnicate'], sink(), bad)).toBe(2);
    expect(bad.text).toMatch(/^skein: unknown option '--frobnicate'/);
    mkdirSync(join(dir, 'empty'));
    expect(initMain([join(dir, 'empty')], sink(), sink())).toBe(0);
  });

  it('names the package after its folder, as npm allows', () => {
    expect(packageName('/x/My Cool_App!')).toBe('my-cool_app');
    expect(packageName('/x/---')).toBe('skein-app');
  });
});
