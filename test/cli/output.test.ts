import { describe, expect, it } from 'vitest';
import { printable } from '../../src/cli/output.js';

describe('printable', () => {
  it('makes terminal escapes and other control characters visible', () => {
    expect(printable('\x1b[31mred\x1b[0m')).toBe('\\x1b[31mred\\x1b[0m');
    expect(printable('a\rb\x07c\x00d\x7fe')).toBe('a\\x0db\\x07c\\x00d\\x7fe');
    // C1 controls: CSI (0x9b) starts an escape sequence on some terminals by itself.
    expect(printable('x\u009b2Jy\u0085z')).toBe('x\\x9b2Jy\\x85z');
    expect(printable('line\nforged')).toBe('line\\x0aforged');
  });

  it('keeps tabs, printable text and non-ASCII letters as they are', () => {
    const text = 'usr/share/doc\tRésumé 日本語 ~!@#$%^&*()';
    expect(printable(text)).toBe(text);
  });

  it('keeps line breaks only when asked (multi-line details)', () => {
    expect(printable('one\ntwo\x1b]0;title\x07', { newlines: true })).toBe(
      'one\ntwo\\x1b]0;title\\x07',
    );
  });
});
