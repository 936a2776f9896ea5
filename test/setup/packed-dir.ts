/**
 * Global setup of the integration tests: one temporary folder per `vitest run` where
 * the first test that needs the packed package packs and installs it (see
 * test/helpers/packed-app.ts); every later test reuses it. Removed at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    packDir: string;
  }
}

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'skein-pack-'));
  project.provide('packDir', dir);
  return () => rmSync(dir, { recursive: true, force: true });
}
