/**
 * The public declarations guide their users: no `any` in any `.d.ts` reachable from the
 * package's exports (`npm test` builds dist/ first). The one exception is TypeScript's own
 * rule for mixins: a mixin's base constructor must take `...args: any[]`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ALLOWED = [/^export type ProtocolConstructor<.*> = new \(\.\.\.args: any\[\]\) => P;$/];

/** Every .d.ts reachable from the `exports` map through relative imports and re-exports. */
function reachable(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { types?: string } | string> };
  const queue = Object.values(pkg.exports).flatMap((e) => (typeof e === 'object' && e.types ? [resolve(ROOT, e.types)] : []));
  const seen = new Set<string>();
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import\()\s*['"](\.[^'"]+)['"]/g)) {
      const target = resolve(dirname(file), m[1]!.replace(/\.js$/, '.d.ts'));
      if (existsSync(target)) queue.push(target);
    }
  }
  return [...seen].sort();
}

/** The code of a declaration file without its comments. */
function code(text: string): string[] {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ''))
    .split('\n')
    .map((line) => line.replace(/\/\/.*$/, '').trim());
}

it('no public declaration uses any', () => {
  const files = reachable();
  expect(files.length).toBeGreaterThan(20);
  const found: string[] = [];
  for (const file of files) {
    code(readFileSync(file, 'utf8')).forEach((line, i) => {
      if (/\bany\b/.test(line.replace(/(['"`]).*?\1/g, '')) && !ALLOWED.some((a) => a.test(line))) found.push(`${relative(ROOT, file)}:${i + 1}: ${line}`);
    });
  }
  expect(found).toEqual([]);
});
