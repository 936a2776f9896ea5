/**
 * Byte classes of RFC 9110/9112, as 256-entry lookup tables: one indexed load
 * per byte on the parser's hot path instead of a regex or a chain of compares.
 */

function table(accept: (byte: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let b = 0; b < 256; b++) t[b] = accept(b) ? 1 : 0;
  return t;
}

const TCHAR_SYMBOLS = "!#$%&'*+-.^_`|~";

/** `tchar` (RFC 9110 §5.6.2): letters, digits and ``!#$%&'*+-.^_`|~``. */
export const TOKEN = table(
  (b) => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || TCHAR_SYMBOLS.includes(String.fromCharCode(b)),
);

/**
 * Bytes allowed inside a field value: VCHAR, obs-text, SP and HTAB (RFC 9110
 * §5.5). CR, LF, NUL, the other controls and DEL are not.
 */
export const FIELD_VALUE = table((b) => b === 0x09 || (b >= 0x20 && b <= 0x7e) || b >= 0x80);

/**
 * Bytes node:http (llhttp) accepts in a request target: visible ASCII. Controls,
 * SP, HTAB, DEL and bytes above 0x7f are refused (they must be percent-encoded).
 */
export const TARGET = table((b) => b >= 0x21 && b <= 0x7e);

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;
export const COMMA = 0x2c;
export const SEMICOLON = 0x3b;
export const EQUALS = 0x3d;
export const DQUOTE = 0x22;
export const BACKSLASH = 0x5c;

/** Value of a hexadecimal digit, or -1. */
export const HEX = (() => {
  const t = new Int8Array(256).fill(-1);
  for (let i = 0; i < 10; i++) t[0x30 + i] = i;
  for (let i = 0; i < 6; i++) {
    t[0x41 + i] = 10 + i;
    t[0x61 + i] = 10 + i;
  }
  return t;
})();
