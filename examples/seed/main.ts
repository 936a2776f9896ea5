/**
 * Serving from your own script: this process becomes the primary and forks one
 * worker per core; each worker runs this script again, and there `serve()` runs
 * the worker side with the same factory. `PORT` (default 9000) picks the port.
 *
 *   npx tsx examples/seed/main.ts
 */
import { serve } from 'skein';
import factory from './seed.js';

await serve({ factory, port: Number(process.env.PORT ?? 9000) });
