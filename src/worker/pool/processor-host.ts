/**
 * The module every offload-pool thread loads. A task names a processors module
 * and one of its exported functions; the module is imported once per thread.
 * The processor is called as `fn(payload, { signal })`. Failures come back as a
 * value (`{ ok: false, error }`) so the name, code and message survive the
 * thread boundary and are rebuilt typed in the worker.
 */
import { threadId, workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { NoProcessorError, OffloadCancelledError, serializeError, type SerializedError } from '../../shared/protocol/errors.js';
import type { ProcessorContext } from '../../shared/protocol/services.js';
import { claimSlot, lowerSlot, signalFromSlot } from './abort-flag.js';
import { importModule } from '../../shared/config/loader.js';
import { asBuffer, MOVE_AT_LEAST } from '../../shared/protocol/bytes.js';

/** What the pool sends a thread. */
export interface ProcessorTask {
  processors: string;
  task: string;
  payload: unknown;
  /** The task's slot in the pool's shared abort flags (see abort-flag.ts). */
  slot: number;
}

/** What every thread of a pool is started with. */
export interface ProcessorHostData {
  /** The pool's abort slots, shared with the worker. */
  flags: Int32Array;
}

// Set by the pool when it starts the thread; the host is never imported elsewhere.
const flags = (workerData as ProcessorHostData).flags;

/** What a thread sends back. */
export type ProcessorResult = { ok: true; value: unknown; threadId: number } | { ok: false; error: SerializedError };

type Processor = (payload: unknown, context: ProcessorContext) => unknown;

const modules = new Map<string, Promise<Record<string, unknown>>>();

function load(specifier: string): Promise<Record<string, unknown>> {
  let module = modules.get(specifier);
  if (!module) {
    module = importModule(specifier, 'thread');
    modules.set(specifier, module);
    module.catch(() => modules.delete(specifier));
  }
  return module;
}

export default async function runProcessor({ processors, task, payload, slot }: ProcessorTask): Promise<ProcessorResult> {
  if (!claimSlot(flags, slot, threadId)) {
    return { ok: false, error: serializeError(new OffloadCancelledError(`task '${task}' was cancelled before it started`)) };
  }
  // The signal (and its async waiter) is made only for processors that read it.
  let follower: ReturnType<typeof signalFromSlot> | undefined;
  const context: ProcessorContext = {
    get signal() {
      return (follower ??= signalFromSlot(flags, slot, task)).signal;
    },
  };
  try {
    const module = await load(processors);
    const fn = module[task];
    if (typeof fn !== 'function') {
      throw new NoProcessorError(`processor '${task}' is not a function exported by ${processors}`);
    }
    const value: unknown = await (fn as Processor)(asBuffer(payload), context);
    // A large binary result goes back as one copy moved, not structured-cloned (two copies);
    // the copy leaves the processor's own buffer untouched (it may keep and reuse it).
    if (value instanceof Uint8Array && value.byteLength >= MOVE_AT_LEAST) {
      const copy = new Uint8Array(value);
      return move({ [transferableSymbol]: [copy.buffer], [valueSymbol]: { ok: true, value: copy, threadId } }) as unknown as ProcessorResult;
    }
    return { ok: true, value, threadId };
  } catch (error) {
    return { ok: false, error: serializeError(error) };
  } finally {
    follower?.release();
    lowerSlot(flags, slot, follower !== undefined);
  }
}
