// Pure functions of the page: no DOM, no state. The browser tests call them
// through window.picowTest.

// Numbers as the plotters write them: 23, -1.5, .5, 1e-3, +7.
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * The values in one line of text, as the plotters people already use
 * write them, or null when the line is not a data line:
 * - Teleplot: `>name:value` (one per line; `>a:1,b:2` too);
 * - Arduino Serial Plotter: `name:value` or `name=value` pairs separated
 *   by commas, spaces or tabs;
 * - bare numbers separated by commas, spaces or tabs: one series per
 *   column, named `1`, `2`, ...
 * A line with any other word (`I got:ping`, `error 42`) is not plotted, so
 * text never becomes a curve by accident.
 * @param {string} line
 * @returns {Array<[string, number]> | null}
 */
export function parsePlotLine(line) {
  let s = line.trim();
  if (!s) return null;
  if (s.startsWith('>')) s = s.slice(1);
  const tokens = s.split(/[\s,;]+/).filter((x) => x.length > 0);
  if (tokens.length === 0) return null;
  const out = [];
  let column = 0;
  for (let i = 0; i < tokens.length; i++) {
    let tok = tokens[i];
    // `temp: 23.5` (a space after the colon) is one pair.
    if (/^[^:=]+[:=]$/.test(tok) && i + 1 < tokens.length && NUMBER.test(tokens[i + 1])) {
      tok += tokens[++i];
    }
    const m = /^([^:=]+)[:=](.*)$/.exec(tok);
    if (m) {
      const name = m[1];
      // Teleplot's `name:timestamp:value` keeps the value; a unit after
      // `§` or flags after `|` are dropped.
      const parts = m[2].split(/[§|]/)[0].split(':');
      const value = parts[parts.length - 1];
      if (!NUMBER.test(value) || NUMBER.test(name)) return null;
      out.push([name, Number(value)]);
    } else if (NUMBER.test(tok)) {
      column += 1;
      out.push([String(column), Number(tok)]);
    } else {
      return null;
    }
  }
  return out.length ? out : null;
}

/**
 * Text as a person should see it: control characters (other than tab and
 * newline) as `\xNN`, as the terminal view shows them.
 * @param {string} s
 */
export function visible(s) {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, (c) => {
    return '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0');
  });
}

/**
 * The text of one read for the text view: `\r\n` as a line break, a final
 * newline dropped, other control characters visible.
 * @param {string} text
 */
export function displayText(text) {
  let s = text.replace(/\r\n/g, '\n');
  if (s.endsWith('\n')) s = s.slice(0, -1);
  return visible(s);
}

/** @param {string} hex @returns {Uint8Array} */
export function bytesOfHex(hex) {
  const n = hex.length >> 1;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Hex bytes separated by spaces. @param {Uint8Array} bytes */
export function spacedHex(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += (i ? ' ' : '') + HEX[bytes[i]];
  return s;
}

/** Hex digits of bytes, no spaces. @param {Uint8Array} bytes */
export function plainHex(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
  return s;
}

/**
 * Rows of a hex dump: 16 bytes, their hex and their printable ASCII.
 * @param {Uint8Array} bytes
 * @returns {Array<[string, string]>}
 */
export function hexDump(bytes) {
  const rows = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const chunk = bytes.subarray(i, i + 16);
    let ascii = '';
    for (const b of chunk) ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
    rows.push([spacedHex(chunk).padEnd(47, ' '), ascii]);
  }
  return rows;
}

/**
 * The time of day with milliseconds, `09:12:01.234`: local time (the
 * browser's time zone), or UTC.
 * @param {number} ms Unix time in milliseconds
 * @param {boolean} [utc]
 */
export function clock(ms, utc = false) {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  if (utc) {
    return `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}`;
  }
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** A byte count with thousands separators. @param {number} n */
export function count(n) {
  return n.toLocaleString('en-US');
}

/**
 * Splits a client's received text into complete lines, keeping the
 * unfinished rest for the next read.
 * @param {string} carry what was left from before
 * @param {string} text the new text
 * @returns {[string[], string]} the complete lines and the new rest
 */
export function takeLines(carry, text) {
  const all = carry + text;
  const parts = all.split('\n');
  const rest = parts.pop() ?? '';
  // An unfinished line that never ends is cut off, not kept forever.
  return [parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)), rest.length > 4096 ? '' : rest];
}

/**
 * The language to show: the one the user chose, else the browser's first
 * language that the page has (Chinese of any region is zh-CN), else English.
 * @param {string | null} chosen
 * @param {readonly string[]} browser navigator.languages
 */
export function pickLanguage(chosen, browser) {
  if (chosen === 'zh-CN' || chosen === 'en') return chosen;
  for (const l of browser || []) {
    const low = l.toLowerCase();
    if (low.startsWith('zh')) return 'zh-CN';
    if (low.startsWith('en')) return 'en';
  }
  return 'en';
}

/**
 * Fills `{name}` placeholders.
 * @param {string} s @param {Record<string, unknown>} [vars]
 */
export function fill(s, vars) {
  if (!vars) return s;
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}

/**
 * The CSV of a plot: a header, then one row per point.
 * @param {string[]} names
 * @param {number[]} times Unix ms
 * @param {Array<Array<number|null>>} columns one per name
 */
export function plotCsv(names, times, columns) {
  const q = (s) => (/[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s);
  const lines = ['time,' + names.map(q).join(',')];
  for (let i = 0; i < times.length; i++) {
    const row = [new Date(times[i]).toISOString()];
    for (const c of columns) row.push(c[i] == null ? '' : String(c[i]));
    lines.push(row.join(','));
  }
  return lines.join('\r\n') + '\r\n';
}
