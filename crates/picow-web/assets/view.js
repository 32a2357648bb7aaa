// The data view as a virtual list: the entries shown live in a bounded
// ring; only the rows inside the visible window (plus a margin) are in the
// DOM, and they are updated at most once per animation frame, however fast
// data comes. Rows have one height; long lines are cut into rows by
// counting character cells (a CJK character is two, as in a terminal), so
// that a row never wraps by itself and the position of every row is known
// without laying it out.

/** A bounded FIFO: pushing onto a full ring drops (and returns) the oldest. */
export class Ring {
  /** @param {number} cap */
  constructor(cap) {
    this.cap = Math.max(1, cap | 0);
    /** @type {any[]} */
    this.buf = new Array(this.cap);
    this.head = 0;
    this.length = 0;
  }

  /** Appends `x`; returns the element it pushed out, if any. */
  push(x) {
    if (this.length === this.cap) {
      const out = this.buf[this.head];
      this.buf[this.head] = x;
      this.head = (this.head + 1) % this.cap;
      return out;
    }
    this.buf[(this.head + this.length) % this.cap] = x;
    this.length += 1;
    return undefined;
  }

  /** Takes the oldest element. */
  shift() {
    if (!this.length) return undefined;
    const x = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) % this.cap;
    this.length -= 1;
    return x;
  }

  /** The `i`-th oldest (0 is the oldest). */
  at(i) {
    return this.buf[(this.head + i) % this.cap];
  }

  last() {
    return this.length ? this.at(this.length - 1) : undefined;
  }

  clear() {
    this.buf = new Array(this.cap);
    this.head = 0;
    this.length = 0;
  }

  /** A new capacity, keeping the newest elements; returns those dropped. */
  resize(cap) {
    const all = this.toArray();
    this.cap = Math.max(1, cap | 0);
    this.clear();
    const dropped = all.slice(0, Math.max(0, all.length - this.cap));
    for (const x of all.slice(dropped.length)) this.push(x);
    return dropped;
  }

  toArray() {
    const out = new Array(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.at(i);
    return out;
  }

  /** @param {(x: any) => boolean} f */
  filter(f) {
    const out = [];
    for (let i = 0; i < this.length; i++) {
      const x = this.at(i);
      if (f(x)) out.push(x);
    }
    return out;
  }

  *[Symbol.iterator]() {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }
}

// eslint-disable-next-line no-control-regex
const NARROW = /^[\u0000-\u10ff]*$/;

/** Columns taken by one code point: 2 for East Asian wide and fullwidth ones. */
export function cellWidth(cp) {
  return cp >= 0x1100 &&
    (cp <= 0x115f ||
      cp === 0x2329 ||
      cp === 0x232a ||
      (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
      (cp >= 0xac00 && cp <= 0xd7a3) ||
      (cp >= 0xf900 && cp <= 0xfaff) ||
      (cp >= 0xfe10 && cp <= 0xfe19) ||
      (cp >= 0xfe30 && cp <= 0xfe6f) ||
      (cp >= 0xff00 && cp <= 0xff60) ||
      (cp >= 0xffe0 && cp <= 0xffe6) ||
      (cp >= 0x1f300 && cp <= 0x1f64f) ||
      (cp >= 0x1f900 && cp <= 0x1f9ff) ||
      (cp >= 0x20000 && cp <= 0x3fffd))
    ? 2
    : 1;
}

/** Columns taken by `s`. @param {string} s */
export function cells(s) {
  if (NARROW.test(s)) return s.length;
  let n = 0;
  for (const ch of s) n += cellWidth(/** @type {number} */ (ch.codePointAt(0)));
  return n;
}

/**
 * Where `s` is cut into rows of at most `width` columns (`step` > 1 cuts
 * only at multiples of it, so hex pairs stay whole): the start offsets
 * (UTF-16) of the rows; one row for an empty string.
 * @param {string} s @param {number} width @param {number} [step]
 * @returns {number[]}
 */
export function cut(s, width, step = 1) {
  let w = Math.max(1, width | 0);
  if (step > 1 && w >= step) w -= w % step;
  if (NARROW.test(s)) {
    const starts = [0];
    for (let i = w; i < s.length; i += w) starts.push(i);
    return starts;
  }
  const starts = [0];
  let used = 0;
  for (let i = 0; i < s.length; ) {
    const cp = /** @type {number} */ (s.codePointAt(i));
    const len = cp > 0xffff ? 2 : 1;
    const c = cellWidth(cp);
    if (used + c > w && used > 0) {
      starts.push(i);
      used = 0;
    }
    used += c;
    i += len;
  }
  return starts;
}

/**
 * @typedef {{prefix: string, lines: string[], step?: number}} Shape
 *   what an entry shows: the prefix of each of its lines (time, client,
 *   direction), and its lines (already in the view's mode); `step` keeps
 *   hex pairs whole when a line is cut
 * @typedef {{line: number, start: number, end: number, first: boolean}} Piece
 */

/** How many rows to draw above and below the visible ones. */
const MARGIN = 20;
/** The DOM keeps at most this many entries' rows ready (a cache). */
const CACHE = 400;

/**
 * The virtual list. `shape(entry)` says what an entry shows; `kind(entry)`
 * its class (`in`, `out`, `sys`) and `id(entry)` its client.
 */
export class DataView {
  /**
   * @param {HTMLElement} el the scroll container
   * @param {{shape: (e: any) => Shape, kind: (e: any) => string, id: (e: any) => (number | undefined),
   *   size: (e: any) => number, jump: (show: boolean) => void, drawn: () => void}} how
   */
  constructor(el, how) {
    this.el = el;
    this.how = how;
    this.space = document.createElement('div');
    this.space.className = 'vl-space';
    this.rowsEl = document.createElement('div');
    this.rowsEl.className = 'vl-rows';
    el.replaceChildren(this.space, this.rowsEl);
    /** The entries shown, oldest first, and the row each starts at (counted since the start). */
    this.entries = new Ring(5000);
    this.starts = new Ring(5000);
    this.end = 0;
    this.gen = 0;
    this.wrap = true;
    this.cols = 120;
    this.cell = 7.5;
    this.rowH = 18;
    this.padTop = 4;
    this.padLeft = 8;
    this.widest = 0;
    this.follow = true;
    /** @type {RegExp | null} */
    this.re = null;
    this.sgen = 0;
    this.hits = 0;
    /** @type {{entry: any, m: number} | null} */
    this.cur = null;
    /** @type {Map<any, {gen: number, shape: Shape, pieces: Piece[]}>} */
    this.cache = new Map();
    /** @type {Map<number, HTMLElement>} the rows in the DOM, by row number */
    this.dom = new Map();
    this.domGen = -1;
    this.domSgen = -1;
    this.frame = 0;
    /** @type {number | null} the scrollTop this view set last (its scroll event is not the user's) */
    this.expect = null;
    /** Called after a frame with the entries it added (the benchmark's hook). */
    this.onCommit = null;
    /** @type {any[]} */
    this.added = [];
    /** @type {any[]} entries waiting for the next frame */
    this.pending = [];
    /** The most bytes the entries shown may hold (`size(entry)` each). */
    this.maxBytes = Infinity;
    this.bytes = 0;
    this.dirty = false;
    el.addEventListener(
      'scroll',
      () => {
        if (this.expect !== null && Math.abs(this.el.scrollTop - this.expect) < 1) {
          this.expect = null;
        } else {
          this.follow = this.atBottom();
          if (this.follow) this.how.jump(false);
        }
        this.schedule();
      },
      { passive: true },
    );
    new ResizeObserver(() => this.measure()).observe(el);
    this.measure();
  }

  /** Reads the font's cell size and the view's width; cuts rows anew when they changed. */
  measure() {
    const cs = getComputedStyle(this.el);
    const ctx = document.createElement('canvas').getContext('2d');
    let cell = this.cell;
    if (ctx) {
      ctx.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
      const narrow = ctx.measureText('0123456789'.repeat(10)).width / 100;
      const wide = ctx.measureText('中文字符'.repeat(25)).width / 100;
      cell = Math.max(narrow, wide / 2) || cell;
    }
    const probe = document.createElement('div');
    probe.className = 'l';
    probe.textContent = 'Xg中';
    this.rowsEl.append(probe);
    const rowH = probe.getBoundingClientRect().height || this.rowH;
    probe.remove();
    this.padTop = parseFloat(cs.paddingTop) || 0;
    this.padLeft = parseFloat(cs.paddingLeft) || 0;
    const inner = this.el.clientWidth - this.padLeft - (parseFloat(cs.paddingRight) || 0);
    // One column spare: a cell measured a little small never wraps a row.
    const cols = Math.max(16, Math.floor(inner / cell) - 1);
    const changed = cell !== this.cell || rowH !== this.rowH || (this.wrap && cols !== this.cols);
    this.cell = cell;
    this.rowH = rowH;
    this.cols = cols;
    if (changed) this.relayout();
    else this.schedule();
  }

  /** The pieces (rows) of entry `e` in the current layout. */
  piecesOf(e) {
    let c = this.cache.get(e);
    if (c && c.gen === this.gen) return c;
    const shape = this.how.shape(e);
    const p = cells(shape.prefix);
    const width = Math.max(8, this.cols - p);
    /** @type {Piece[]} */
    const pieces = [];
    shape.lines.forEach((line, i) => {
      if (!this.wrap) {
        pieces.push({ line: i, start: 0, end: line.length, first: true });
        this.widest = Math.max(this.widest, p + cells(line));
        return;
      }
      const starts = cut(line, width, shape.step);
      for (let k = 0; k < starts.length; k++) {
        pieces.push({ line: i, start: starts[k], end: k + 1 < starts.length ? starts[k + 1] : line.length, first: k === 0 });
      }
    });
    c = { gen: this.gen, shape, pieces };
    this.cache.set(e, c);
    if (this.cache.size > CACHE) {
      // Forget the oldest half (Map keeps insertion order).
      let n = this.cache.size - CACHE / 2;
      for (const k of this.cache.keys()) {
        if (n-- <= 0) break;
        this.cache.delete(k);
      }
    }
    return c;
  }

  /** Rows of entry `e` (without keeping its pieces when they are not cached). */
  rowCount(e) {
    const cached = this.cache.get(e);
    if (cached && cached.gen === this.gen) return cached.pieces.length;
    const shape = this.how.shape(e);
    const p = cells(shape.prefix);
    if (!this.wrap) {
      for (const line of shape.lines) this.widest = Math.max(this.widest, p + cells(line));
      return shape.lines.length;
    }
    const width = Math.max(8, this.cols - p);
    let n = 0;
    for (const line of shape.lines) n += cut(line, width, shape.step).length;
    return n;
  }

  /** Matches of the search in entry `e`'s lines: [line, start, end] triples. */
  matchesOf(e) {
    if (!this.re) return [];
    if (e._sgen === this.sgen && e._gen === this.gen) return e._matches;
    const { shape } = this.piecesOf(e);
    const out = [];
    shape.lines.forEach((line, i) => {
      for (const m of line.matchAll(/** @type {RegExp} */ (this.re))) {
        if (m[0].length) out.push([i, /** @type {number} */ (m.index), /** @type {number} */ (m.index) + m[0].length]);
      }
    });
    e._matches = out;
    e._sgen = this.sgen;
    e._gen = this.gen;
    return out;
  }

  hitCount(e) {
    if (!this.re) return 0;
    if (e._hsgen === this.sgen) return e._hits;
    // Counted on the lines as shown in the current mode.
    let n = 0;
    for (const line of this.how.shape(e).lines) for (const m of line.matchAll(/** @type {RegExp} */ (this.re))) if (m[0].length) n += 1;
    e._hits = n;
    e._hsgen = this.sgen;
    return n;
  }

  get base() {
    return this.starts.length ? this.starts.at(0) : this.end;
  }

  /** A new scroll-back size (entries). */
  setCapacity(cap) {
    if (cap === this.entries.cap) return;
    const dropped = this.entries.resize(cap);
    this.starts.resize(cap);
    for (const e of dropped) this.forget(e);
    this.schedule();
  }

  /** Adds an entry: it is shown at the next frame (with all that came before it). */
  add(e) {
    this.pending.push(e);
    // A tab in the background draws no frames: what waits stays bounded.
    if (this.pending.length > this.entries.cap * 1.25) this.pending.splice(0, this.pending.length - this.entries.cap);
    this.schedule();
  }

  /** The oldest entry leaves. */
  dropFront() {
    const out = this.entries.shift();
    this.starts.shift();
    this.forget(out);
  }

  forget(out) {
    this.hits -= this.hitCount(out);
    this.bytes -= this.how.size(out);
    this.cache.delete(out);
    if (this.cur && this.cur.entry === out) this.cur = null;
  }

  /** Adds entries at the end now (the frame draws them). */
  append(list) {
    if (!list.length) return;
    const before = this.base;
    for (const e of list) {
      const n = this.rowCount(e);
      const out = this.entries.push(e);
      if (out !== undefined) {
        this.starts.shift();
        this.forget(out);
      }
      this.starts.push(this.end);
      this.end += n;
      this.bytes += this.how.size(e);
      this.hits += this.hitCount(e);
      this.added.push(e);
    }
    while (this.bytes > this.maxBytes && this.entries.length > 1) this.dropFront();
    // Rows that left at the top: what the user looks at stays in place.
    const gone = this.base - before;
    if (gone > 0 && !this.follow) this.scrollTo(this.el.scrollTop - gone * this.rowH);
    if (!this.follow) this.how.jump(true);
  }

  /** Cut every entry into rows again at the next frame (names changed). */
  invalidate() {
    this.dirty = true;
    this.schedule();
  }

  /** Shows `list` instead of what was shown. */
  reset(list) {
    this.pending = [];
    this.bytes = 0;
    this.entries.clear();
    this.starts.clear();
    this.end = 0;
    this.hits = 0;
    this.cur = null;
    this.widest = 0;
    this.gen += 1;
    this.cache.clear();
    this.added = [];
    this.follow = true;
    this.how.jump(false);
    this.append(list.slice(-this.entries.cap));
    this.added = [];
    this.toEnd();
  }

  /** The rows of every entry again (mode, wrap, width, timestamps or names changed). */
  relayout() {
    this.gen += 1;
    this.cache.clear();
    this.widest = 0;
    const es = this.entries.toArray();
    this.starts.clear();
    this.end = 0;
    for (const e of es) {
      this.starts.push(this.end);
      this.end += this.rowCount(e);
    }
    if (this.re) {
      // The lines changed (another mode): count the matches again.
      this.sgen += 1;
      this.cur = null;
      this.hits = 0;
      for (const e of es) this.hits += this.hitCount(e);
    }
    if (this.follow) this.toEnd();
    this.schedule();
  }

  setWrap(on) {
    if (on === this.wrap) return;
    this.wrap = on;
    this.el.classList.toggle('wrap', on);
    this.relayout();
  }

  /** Highlights (and counts) `term`; empty for none. */
  setSearch(term) {
    this.re = term ? new RegExp(term.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi') : null;
    this.sgen += 1;
    this.cur = null;
    let n = 0;
    if (this.re) for (const e of this.entries) n += this.hitCount(e);
    this.hits = n;
    this.schedule();
  }

  /** Scrolls to the next (or previous) match and marks it. */
  nextMatch(back = false) {
    const n = this.entries.length;
    if (!this.re || !this.hits || !n) return false;
    let i = this.cur ? this.indexOf(this.cur.entry) : -1;
    /** @type {number | null} */
    let m = this.cur && i >= 0 ? this.cur.m : null;
    if (i < 0) i = back ? n - 1 : 0;
    for (let step = 0; step <= n; step++) {
      const ms = this.matchesOf(this.entries.at(i));
      const k = m === null ? (back ? ms.length - 1 : 0) : back ? m - 1 : m + 1;
      if (k >= 0 && k < ms.length) {
        this.cur = { entry: this.entries.at(i), m: k };
        this.reveal(i, ms[k]);
        return true;
      }
      i = back ? (i - 1 + n) % n : (i + 1) % n;
      m = null;
    }
    return false;
  }

  indexOf(e) {
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries.at(i) === e) return i;
    return -1;
  }

  /** Scrolls so that match `mt` of entry `i` is in the middle. */
  reveal(i, mt) {
    const e = this.entries.at(i);
    const { pieces } = this.piecesOf(e);
    let k = pieces.findIndex((p) => p.line === mt[0] && mt[1] >= p.start && mt[1] < Math.max(p.end, p.start + 1));
    if (k < 0) k = 0;
    const row = this.starts.at(i) + k - this.base;
    this.follow = false;
    this.how.jump(true);
    this.scrollTo(this.padTop + row * this.rowH - this.el.clientHeight / 2);
    this.domSgen = -1;
    this.schedule();
  }

  /** Scrolls to `top` (the scroll event this causes is not the user's). */
  scrollTo(top) {
    this.el.scrollTop = Math.max(0, top);
    this.expect = this.el.scrollTop;
  }

  atBottom() {
    return this.el.scrollTop + this.el.clientHeight >= this.el.scrollHeight - this.rowH / 2;
  }

  toEnd() {
    this.follow = true;
    this.schedule();
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
  }

  /** The entry holding row `r` (counted since the start): its index. */
  find(r) {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts.at(mid) <= r) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Draws the rows in view: once per frame at most. */
  draw() {
    this.frame = 0;
    if (this.dirty) {
      this.dirty = false;
      this.relayout();
      if (this.frame) cancelAnimationFrame(this.frame);
      this.frame = 0;
    }
    if (this.pending.length) {
      const p = this.pending;
      this.pending = [];
      this.append(p);
    }
    const total = this.end - this.base;
    // The view's own padding is around the space.
    this.space.style.height = `${total * this.rowH}px`;
    this.space.style.width = this.wrap ? '1px' : `${this.widest * this.cell}px`;
    if (this.follow) {
      const top = Math.max(0, this.el.scrollHeight - this.el.clientHeight);
      if (Math.abs(this.el.scrollTop - top) > 0.5) this.scrollTo(top);
    }
    const fresh = this.domGen !== this.gen || this.domSgen !== this.sgen;
    if (fresh) {
      this.rowsEl.replaceChildren();
      this.dom.clear();
      this.domGen = this.gen;
      this.domSgen = this.sgen;
    }
    const base = this.base;
    const top = Math.floor((this.el.scrollTop - this.padTop) / this.rowH);
    const rows = Math.ceil(this.el.clientHeight / this.rowH) + 1;
    const first = base + Math.max(0, top - MARGIN);
    const last = Math.min(this.end, base + Math.max(0, top) + rows + MARGIN);
    // Rows that left the window go; rows that came are made; the others stay.
    for (const [r, node] of this.dom) {
      if (r < first || r >= last) {
        node.remove();
        this.dom.delete(r);
      }
    }
    if (first < last) {
      let i = this.find(first);
      /** @type {HTMLElement | null} */
      let before = null;
      const make = [];
      for (let r = first; r < last; r++) {
        while (i + 1 < this.starts.length && this.starts.at(i + 1) <= r) i++;
        const have = this.dom.get(r);
        if (have) {
          if (make.length) {
            have.before(...make);
            make.length = 0;
          }
          before = have;
          continue;
        }
        const node = this.row(i, r - this.starts.at(i));
        node.style.top = `${this.padTop + (r - base) * this.rowH}px`;
        this.dom.set(r, node);
        make.push(node);
      }
      if (make.length) {
        if (before) before.after(...make);
        else this.rowsEl.append(...make);
      }
      // Positions follow the first row kept (rows at the top may have left).
      for (const [r, node] of this.dom) node.style.top = `${this.padTop + (r - base) * this.rowH}px`;
    }
    const added = this.added;
    this.added = [];
    this.how.drawn();
    if (this.onCommit && added.length) this.onCommit(added);
  }

  /** The element of row `k` of entry `i`. */
  row(i, k) {
    const e = this.entries.at(i);
    const { shape, pieces } = this.piecesOf(e);
    const piece = pieces[k] ?? { line: 0, start: 0, end: 0, first: true };
    const div = document.createElement('div');
    div.className = `l ${this.how.kind(e)}`;
    const id = this.how.id(e);
    if (id != null) div.dataset.id = String(id);
    if (piece.first && shape.prefix) {
      const p = document.createElement('span');
      p.className = 'p';
      p.textContent = shape.prefix;
      div.append(p);
    } else if (!piece.first) {
      div.style.paddingLeft = `${cells(shape.prefix) * this.cell}px`;
      div.classList.add('cont');
    }
    const line = shape.lines[piece.line] ?? '';
    const text = line.slice(piece.start, piece.end);
    if (!this.re) {
      div.append(text);
      return div;
    }
    const ms = this.matchesOf(e);
    let at = piece.start;
    ms.forEach(([l, s, t], m) => {
      if (l !== piece.line || t <= piece.start || s >= piece.end) return;
      const a = Math.max(s, piece.start);
      const b = Math.min(t, piece.end);
      if (a > at) div.append(line.slice(at, a));
      const mark = document.createElement('mark');
      mark.textContent = line.slice(a, b);
      if (this.cur && this.cur.entry === e && this.cur.m === m) mark.className = 'cur';
      div.append(mark);
      at = b;
    });
    if (at < piece.end) div.append(line.slice(at, piece.end));
    return div;
  }

  /** The DOM rows (for tests): how many. */
  domRows() {
    return this.dom.size;
  }
}
