// Pool threads start here when skein runs from its TypeScript source (tests,
// benchmarks): on Node 20 a thread cannot import .ts natively, and module hooks
// do not reach threads, so the host is loaded through tsx's scoped tsImport.
// Plain JavaScript on purpose; the build (dist) uses processor-host.js directly.
import { tsImport } from 'tsx/esm/api';

const host = await tsImport('./processor-host.ts', import.meta.url);

export default host.default;
