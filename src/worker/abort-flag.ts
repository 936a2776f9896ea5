/**
 * Cancelling a task that already runs on a pool thread without killing the
 * thread. piscina's own abort terminates the thread (and everything it had
 * loaded); instead each task carries a few bytes of shared memory that the
 * worker flips to ABORTED. The thread turns that into an ordinary
 * `AbortSignal`: its `abort` event fires as soon as the processor yields to
 * its event loop (via `Atomics.waitAsync`), and reading `signal.aborted`
 * checks the shared flag directly, so even a loop that never yields can stop.
 */
import { OffloadCancelledError } from '../shared/errors.js';

const STATE = 0;
const THREAD = 1;
const RUNNING = 0;
const ABORTED = 1;
const DONE = 2;

/** A task's shared flag: `[state, threadId]`. */
export type AbortFlag = Int32Array;

/** Worker side: a fresh flag for one task. */
export function createAbortFlag(): AbortFlag {
  return new Int32Array(new SharedArrayBuffer(8));
}

/** Worker side: makes a flag whose task has left its thread ready for another task. */
export function resetAbortFlag(flag: AbortFlag): void {
  Atomics.store(flag, STATE, RUNNING);
  Atomics.store(flag, THREAD, 0);
}

/** Worker side: tells the thread running the task to stop (no-op once it finished). */
export function raiseAbortFlag(flag: AbortFlag): void {
  if (Atomics.compareExchange(flag, STATE, RUNNING, ABORTED) === RUNNING) Atomics.notify(flag, STATE);
}

/** Worker side: the id of the thread that picked up the task (0 until it started). */
export function flagThreadId(flag: AbortFlag): number {
  return Atomics.load(flag, THREAD);
}

/** Thread side: the task is done, whatever the flag says now. Releases the async waiter. */
export function lowerAbortFlag(flag: AbortFlag): void {
  if (Atomics.compareExchange(flag, STATE, RUNNING, DONE) === RUNNING) Atomics.notify(flag, STATE);
}

/**
 * Thread side: records which thread runs the task, so a task that ignores
 * cancellation can be stopped. False when the task was cancelled before it started.
 */
export function claimAbortFlag(flag: AbortFlag, threadId: number): boolean {
  Atomics.store(flag, THREAD, threadId);
  return Atomics.load(flag, STATE) !== ABORTED;
}

type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };

/** Thread side: an AbortSignal that follows the flag while the task runs; `release` detaches it when the task ends. */
export function signalFromFlag(flag: AbortFlag, task: string): { signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  const signal = controller.signal;
  let fired = false;
  // The worker reuses flags: once released, this signal must not follow the flag any more.
  let released = false;
  const check = (): boolean => {
    if (!fired && !released && Atomics.load(flag, STATE) === ABORTED) {
      fired = true;
      controller.abort(new OffloadCancelledError(`task '${task}' was cancelled`));
    }
    return fired;
  };
  // An own getter shadows AbortSignal.prototype.aborted: a synchronous loop sees the flag at once.
  Object.defineProperty(signal, 'aborted', { get: check, configurable: true });
  signal.throwIfAborted = () => {
    if (check()) throw signal.reason;
  };
  if (!check()) {
    const waited = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync(flag, STATE, RUNNING);
    if (waited.async) void waited.value.then(check);
    else check();
  }
  return {
    signal,
    release: () => {
      released = true;
    },
  };
}
