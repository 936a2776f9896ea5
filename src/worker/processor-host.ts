/**
 * The module every offload-pool thread loads. A task names a processors module
 * and one of its exported functions; the module is imported once per thread.
 * Failures come back as a value (`{ ok: false, error }`) so the name, code and
 * message survive the thread boundary and are rebuilt typed in the worker.
 */
import { threadId } from 'node:worker_threads';
import { NoProcessorError, serializeError, type SerializedError } from '../shared/errors.js';

/** What the pool sends a thread. */
export interface ProcessorTask {
  processors: string;
  task: string;
  payload: unknown;
}

/** What a thread sends back. */
export type ProcessorResult = { ok: true; value: unknown; threadId: number } | { ok: false; error: SerializedError };

const modules = new Map<string, Promise<Record<string, unknown>>>();

function load(specifier: string): Promise<Record<string, unknown>> {
  let module = modules.get(specifier);
  if (!module) {
    module = import(specifier) as Promise<Record<string, unknown>>;
    modules.set(specifier, module);
    module.catch(() => modules.delete(specifier));
  }
  return module;
}

export default async function runProcessor({ processors, task, payload }: ProcessorTask): Promise<ProcessorResult> {
  try {
    const module = await load(processors);
    const fn = module[task];
    if (typeof fn !== 'function') {
      throw new NoProcessorError(`processor '${task}' is not a function exported by ${processors}`);
    }
    const value: unknown = await fn(payload);
    return { ok: true, value, threadId };
  } catch (error) {
    return { ok: false, error: serializeError(error) };
  }
}
