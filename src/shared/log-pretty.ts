/**
 * One pino JSON record as one line for a person: time, level, who, message, then
 * the other fields as `key=value` (an error's stack indented below).
 *
 *   12:04:31.207 INFO  primary 4242: skein ready endpoints=[…] workers=2
 */
const LEVELS: Readonly<Record<number, { name: string; color: number }>> = {
  10: { name: 'TRACE', color: 90 },
  20: { name: 'DEBUG', color: 36 },
  30: { name: 'INFO', color: 32 },
  40: { name: 'WARN', color: 33 },
  50: { name: 'ERROR', color: 31 },
  60: { name: 'FATAL', color: 35 },
};
/** Fields shown in the line's head, not repeated as `key=value`. */
const HEAD = new Set(['level', 'time', 'pid', 'role', 'worker', 'msg', 'hostname']);

/** Formats one JSON record (a line of pino output); text that is not JSON passes through. */
export function prettyLine(record: string, colors = false): string {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(record) as Record<string, unknown>;
  } catch {
    return record.endsWith('\n') ? record : `${record}\n`;
  }
  const paint = (code: number, text: string) => (colors ? `\x1b[${code}m${text}\x1b[0m` : text);
  const level = LEVELS[Number(r.level)] ?? { name: String(r.level), color: 0 };
  const time = typeof r.time === 'string' ? r.time.slice(11, 23) : '';
  const who = [r.role, r.worker, r.pid].filter((v) => v !== undefined).join(' ');
  let stack = '';
  const fields: string[] = [];
  for (const [key, value] of Object.entries(r)) {
    if (HEAD.has(key)) continue;
    if (value !== null && typeof value === 'object' && typeof (value as { stack?: unknown }).stack === 'string') {
      stack = `\n    ${String((value as { stack: string }).stack).replaceAll('\n', '\n    ')}`;
      continue;
    }
    fields.push(`${paint(90, `${key}=`)}${typeof value === 'string' ? value : JSON.stringify(value)}`);
  }
  const head = `${paint(90, time)} ${paint(level.color, level.name.padEnd(5))} ${paint(90, `${who}:`)} ${String(r.msg ?? '')}`;
  return `${[head, ...fields].join(' ')}${stack}\n`;
}
