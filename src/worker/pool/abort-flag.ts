/**
 * Cancelling a task that already runs on a pool thread without killing the
 * thread. piscina's own abort terminates the thread (and everything it had
 * loaded); instead every running task owns a slot of one SharedArrayBuffer
 * that all of the pool's threads share (given once, as `workerData`), and the
 * worker flips its slot to ABORTED. The thread turns that into an ordinary
 * `AbortSignal`: its `abort` event fires as soon as the processor yields to
 * its event loop (via `Atomics.waitAsync`), and reading `signal.aborted`
 * checks the shared slot directly, so even a loop that never yields can stop.
 * A task message carries only its slot number.
 */
import { InvalidStateError, OffloadCancelledError } from '../../shared/protocol/errors.js';

const STATE = 0;
const THREAD = 1;
const WIDTH = 2; // int32s per slot: [state, threadId]
const RUNNING = 0;
const ABORTED = 1;
const DONE = 2;

/** Worker side: the slots of one pool (one per thread: a slot is held from dispatch until the thread is done). */
export class AbortSlots {
  /** Shared with every thread of the pool. */
  readonly array: Int32Array;
  private readonly free: number[] = [];

  constructor(slots: number) {
    this.array = new Int32Array(new SharedArrayBuffer(slots * WIDTH * 4));
    for (let slot = slots - 1; slot >= 0; slot--) this.free.push(slot);
  }

  /** A slot for a task about to be dispatched. */
  take(): number {
    const slot = this.free.pop();
    if (slot === undefined) throw new InvalidStateError('skein bug: more tasks dispatched than pool threads');
    Atomics.store(this.array, slot * WIDTH + STATE, RUNNING);
    Atomics.store(this.array, slot * WIDTH + THREAD, 0);
    return slot;
  }

  /** The task's thread is done with the slot (it answered, or it is dead). */
  give(slot: number): void {
    this.free.push(slot);
  }

  /** Tells the thread running the task to stop (no-op once it finished). */
  raise(slot: number): void {
    const at = slot * WIDTH + STATE;
    if (Atomics.compareExchange(this.array, at, RUNNING, ABORTED) === RUNNING) Atomics.notify(this.array, at);
  }

  /** The id of the thread that picked up the task (0 until one did). */
  threadOf(slot: number): number {
    return Atomics.load(this.array, slot * WIDTH + THREAD);
  }
}

/**
 * Thread side: records which thread runs the task (so a task that ignores
 * cancellation can be stopped). False when it was cancelled before it started.
 */
export function claimSlot(array: Int32Array, slot: number, threadId: number): boolean {
  Atomics.store(array, slot * WIDTH + THREAD, threadId);
  return Atomics.load(array, slot * WIDTH + STATE) !== ABORTED;
}

/**
 * Thread side: the task is done, whatever the slot says now. `followed`: a
 * {@link signalFromSlot} waits on the slot, and is woken to let go of it
 * (without one, there is nobody to wake: notify takes V8's futex lock for nothing).
 */
export function lowerSlot(array: Int32Array, slot: number, followed: boolean): void {
  const at = slot * WIDTH + STATE;
  if (Atomics.compareExchange(array, at, RUNNING, DONE) === RUNNING && followed) Atomics.notify(array, at);
}

type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };

/** Thread side: an AbortSignal that follows the slot while the task runs; `release` detaches it when the task ends. */
export function signalFromSlot(array: Int32Array, slot: number, task: string): { signal: AbortSignal; release(): void } {
  const at = slot * WIDTH + STATE;
  const controller = new AbortController();
  const signal = controller.signal;
  let fired = false;
  // The slot goes to another task once this one ends: a released signal must not follow it any more.
  let released = false;
  const check = (): boolean => {
    if (!fired && !released && Atomics.load(array, at) === ABORTED) {
      fired = true;
      controller.abort(new OffloadCancelledError(`task '${task}' was cancelled`));
    }
    return fired;
  };
  // An own getter shadows AbortSignal.prototype.aborted: a synchronous loop sees the slot at once.
  Object.defineProperty(signal, 'aborted', { get: check, configurable: true });
  signal.throwIfAborted = () => {
    if (check()) throw signal.reason;
  };
  if (!check()) {
    const waited = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync(array, at, RUNNING);
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
