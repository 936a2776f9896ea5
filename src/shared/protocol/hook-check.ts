/**
 * A method named `dataRecieved` is a new method nothing calls, and the protocol
 * silently never hears its data. `noImplicitOverride` catches that at compile
 * time; for code run from source (`.ts` modules under `skein serve`), this finds
 * methods whose names are within two edits of a hook's and says so once.
 */

/** The hooks skein calls on protocols and factories (names of 8 letters or more: shorter ones are too close to ordinary words). */
export const HOOK_NAMES: readonly string[] = [
  'connectionMade',
  'dataReceived',
  'connectionLost',
  'readConnectionLost',
  'writeConnectionLost',
  'lineReceived',
  'rawDataReceived',
  'lineLengthExceeded',
  'stringReceived',
  'lengthLimitExceeded',
  'replyFailed',
  'timeoutConnection',
  'messageReceived',
  'buildProtocol',
  'startFactory',
  'stopFactory',
  'pauseProducing',
  'resumeProducing',
  'stopProducing',
];

/** Levenshtein distance of `a` and `b`, or `limit + 1` as soon as it is known to exceed `limit`. */
export function editDistance(a: string, b: string, limit = 2): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      best = Math.min(best, row[j]!);
    }
    if (best > limit) return limit + 1;
    previous = row;
  }
  return previous[b.length]!;
}

/** Methods of `cls` (and its bases) whose names look like a misspelled hook, with the hook they resemble. */
export function misspelledHooks(cls: abstract new (...args: never[]) => unknown): Array<{ method: string; hook: string }> {
  const found: Array<{ method: string; hook: string }> = [];
  const seen = new Set<string>();
  for (let proto = cls.prototype as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (seen.has(name) || name === 'constructor' || HOOK_NAMES.includes(name)) continue;
      seen.add(name);
      if (typeof Object.getOwnPropertyDescriptor(proto, name)?.value !== 'function') continue;
      const hook = HOOK_NAMES.find((h) => editDistance(name.toLowerCase(), h.toLowerCase()) <= 2);
      if (hook) found.push({ method: name, hook });
    }
  }
  return found;
}

const warned = new WeakSet<object>();

/**
 * Warns once per class (a process warning, code `SKEIN_MISSPELLED_HOOK`) for each
 * method of `cls` that looks like a misspelled hook. Returns what it found.
 */
export function warnMisspelledHooks(cls: abstract new (...args: never[]) => unknown): Array<{ method: string; hook: string }> {
  if (warned.has(cls)) return [];
  warned.add(cls);
  const found = misspelledHooks(cls);
  for (const { method, hook } of found) {
    process.emitWarning(`${cls.name}.${method} looks like a misspelling of the hook ${hook}, which skein calls and ${method} it does not`, {
      code: 'SKEIN_MISSPELLED_HOOK',
    });
  }
  return found;
}
