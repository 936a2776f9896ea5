import { pathToFileURL } from 'node:url';
import { importModule } from '../../config/loader.js';
import { NoProcessorError, OffloadCancelledError } from '../errors.js';
import type { OffloadRequest, ProcessorContext, ReactorServices } from '../services.js';
import { FakeClock } from './fake-clock.js';

/** A processors module, as an object of functions (what `import()` of the module gives). */
export type Processors = Readonly<Record<string, unknown>>;

/**
 * Reactor services without a reactor: a {@link FakeClock} and an offload that
 * runs the processor inline (same process, same thread), so a protocol that
 * uses `callLater` or `offload` is unit-tested without sockets or threads.
 * Twisted's `MemoryReactorClock`, for what a skein protocol can reach.
 *
 * A processor gets what a pool thread gives it: the payload and a
 * {@link ProcessorContext} whose `signal` aborts when the caller's signal does
 * or its connection is lost. Without `processors`, the factory's processors
 * module is imported (a `.ts` module too, through tsx, also under vitest).
 *
 * ```ts
 * const reactor = new MemoryReactor({ processors: { digest: (data) => sha256(data) } });
 * const { protocol, transport } = connectProtocol(new Hasher(), { reactor });
 * ```
 */
export class MemoryReactor implements ReactorServices {
  /** The fake clock lent to protocols (`callLater`); move it with `advance`. */
  readonly clock: FakeClock;
  /** Every offload request, in the order made. */
  readonly offloaded: OffloadRequest[] = [];
  private readonly processors: Processors | undefined;
  private readonly modules = new Map<string, Promise<Processors>>();

  /**
   * @param options.clock the clock to lend (a new FakeClock by default).
   * @param options.processors processor functions to run instead of importing the factory's processors module.
   */
  constructor(options: { clock?: FakeClock; processors?: Processors } = {}) {
    this.clock = options.clock ?? new FakeClock();
    this.processors = options.processors;
  }

  /**
   * Runs the processor inline.
   * @throws NoProcessorError (rejected) when the processor does not exist.
   * @throws OffloadCancelledError (rejected) when the request's signal is aborted before it runs.
   */
  async offload(request: OffloadRequest): Promise<unknown> {
    this.offloaded.push(request);
    const module = this.processors ?? (await this.load(request.processors));
    if (request.options?.signal?.aborted) throw new OffloadCancelledError(`offloaded task '${request.task}' was cancelled`);
    const fn = module[request.task];
    if (typeof fn !== 'function') throw new NoProcessorError(`processor '${request.task}' is not a function exported by ${request.processors}`);
    const signals = [request.options?.signal, request.lifetime].filter((s): s is AbortSignal => s !== undefined);
    const context: ProcessorContext = { signal: signals.length === 1 ? signals[0]! : AbortSignal.any(signals) };
    return await (fn as (payload: unknown, context: ProcessorContext) => unknown)(request.payload, context);
  }

  private load(specifier: string): Promise<Processors> {
    let module = this.modules.get(specifier);
    if (!module) {
      // No module hooks to count on here either (a test runner loads skein from node_modules
      // untransformed), so `.ts` goes through tsx's scoped import, as in a pool thread.
      const href = specifier.startsWith('file:') ? specifier : pathToFileURL(specifier).href;
      module = importModule(href, 'thread');
      this.modules.set(specifier, module);
      module.catch(() => this.modules.delete(specifier));
    }
    return module;
  }
}
