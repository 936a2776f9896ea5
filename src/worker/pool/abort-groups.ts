/**
 * Tasks grouped by the AbortSignal that cancels them, with one `abort` listener
 * per signal however many tasks share it. Adding a listener to an EventTarget
 * costs O(listeners), so a listener per task made a deep pipeline on one
 * connection (whose lifetime signal every task shares) quadratic, and Node
 * warned `MaxListenersExceededWarning` past ten. Adding and removing a task is O(1).
 */
export class AbortGroups<T> {
  private readonly groups = new WeakMap<AbortSignal, Set<T>>();

  /** `onAbort` is called for every member of a group once its signal aborts. */
  constructor(private readonly onAbort: (item: T) => void) {}

  /** Adds `item` to `signal`'s group (the signal must not be aborted yet). */
  add(signal: AbortSignal, item: T): void {
    let group = this.groups.get(signal);
    if (!group) {
      const members = new Set<T>();
      group = members;
      this.groups.set(signal, members);
      signal.addEventListener(
        'abort',
        () => {
          this.groups.delete(signal);
          for (const member of members) this.onAbort(member);
          members.clear();
        },
        { once: true },
      );
    }
    group.add(item);
  }

  /** Removes `item` from `signal`'s group (it settled). */
  delete(signal: AbortSignal, item: T): void {
    this.groups.get(signal)?.delete(item);
  }
}
