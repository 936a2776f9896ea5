/**
 * Docs that cannot rot: every TypeScript block of README.md and docs/*.md is compiled
 * against the packed package, under the strict tsconfig of a new app, and every block
 * named `*.test.ts` runs under vitest (see test/helpers/doc-blocks.ts for the markers).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { docBlocks } from './helpers/doc-blocks.js';
import { exec, packedApp } from './helpers/packed-app.js';
import { ROOT } from './helpers/server.js';

const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

describe('the TypeScript in README.md and docs/', { timeout: 300_000 }, () => {
  it('compiles against the packed package, and its tests pass', async () => {
    const { app } = await packedApp();
    const dir = join(app, 'doc-blocks');
    const where = new Map<string, string>();
    let tests = 0;
    for (const page of PAGES) {
      const { blocks } = docBlocks(readFileSync(join(ROOT, page), 'utf8'));
      const folder = join(dir, page.replace(/\W+/g, '-'));
      mkdirSync(folder, { recursive: true });
      for (const block of blocks) {
        expect(where.has(join(folder, block.file)), `${page}:${block.line} reuses the name ${block.file}`).toBe(false);
        where.set(join(folder, block.file), `${page}:${block.line}`);
        writeFileSync(join(folder, block.file), block.code);
        if (block.file.endsWith('.test.ts')) tests++;
      }
    }
    expect(where.size).toBeGreaterThan(12);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: '../tsconfig.json', include: ['**/*.ts'] }));
    try {
      await exec(process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '-p', dir], app);
    } catch (error) {
      // Name the page and line of each failing block.
      const message = (error as Error).message.replace(/doc-blocks\/[^\s(]+?\.ts/g, (m) => `${m} [${where.get(join(app, m)) ?? '?'}]`);
      throw new Error(message);
    }
    const out = await exec(process.execPath, [join(app, 'node_modules/vitest/vitest.mjs'), 'run', 'doc-blocks/'], app);
    expect(out).toMatch(new RegExp(`Test Files\\s+${tests} passed`));
  });
});
