import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { render, TARGET } from '../../scripts/serve-options.js';
import { OPTION_SPECS } from '../../src/shared/config/option-table.js';
import type { ServeOptions } from '../../src/serve.js';

it('serve-options.ts is generated from the option table (run npm run gen:options after changing it)', () => {
  expect(readFileSync(TARGET, 'utf8')).toBe(render());
  for (const [name, spec] of Object.entries(OPTION_SPECS)) {
    expect(render()).toContain(`Flag \`--${spec.flag}\`, environment variable \`${spec.env}\`, config key \`${name}\`.`);
  }
});

it('types each option (checked by tsc: a wrong type is an error)', () => {
  const good: ServeOptions = { workers: 2, balance: 'client-hash', logLevel: 'debug', shutdownTimeout: 1.5 };
  // @ts-expect-error workers is a number of processes
  const words: ServeOptions = { workers: 'two' };
  // @ts-expect-error not a balance policy
  const policy: ServeOptions = { balance: 'random' };
  expect([good, words, policy]).toHaveLength(3);
});
