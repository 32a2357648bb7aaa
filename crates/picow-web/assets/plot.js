// The live plot: a bounded store of points per client, and the chart
// (uPlot, vendored) that shows one client's series.

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

/** The points of one client: a ring of `cap` rows (time + one value per series). */
export class PlotStore {
  /** @param {number} cap */
  constructor(cap) {
    this.cap = cap;
    this.t = new Float64Array(cap);
    /** @type {Map<string, Float64Array>} */
    this.cols = new Map();
    /** @type {string[]} */
    this.names = [];
    /** @type {Map<string, number>} */
    this.last = new Map();
    this.start = 0;
    this.n = 0;
    this.version = 0;
  }

  /** @param {number} tMs @param {Array<[string, number]>} pairs */
  push(tMs, pairs) {
    if (this.names.length + pairs.length > 64 && pairs.some(([k]) => !this.cols.has(k))) {
      // A runaway set of names (text that looks like data): keep the first 64.
      pairs = pairs.filter(([k]) => this.cols.has(k));
      if (!pairs.length) return;
    }
    let idx;
    if (this.n < this.cap) {
      idx = (this.start + this.n) % this.cap;
      this.n += 1;
    } else {
      idx = this.start;
      this.start = (this.start + 1) % this.cap;
    }
    this.t[idx] = tMs;
    for (const c of this.cols.values()) c[idx] = NaN;
    for (const [name, v] of pairs) {
      let c = this.cols.get(name);
      if (!c) {
        c = new Float64Array(this.cap).fill(NaN);
        this.cols.set(name, c);
        this.names.push(name);
      }
      c[idx] = v;
      this.last.set(name, v);
    }
    this.version += 1;
  }

  /**
   * The rows inside the window, oldest first.
   * @param {{points?: number, seconds?: number}} win
   * @returns {{times: number[], columns: Array<Array<number|null>>}}
   */
  window(win) {
    let from = 0;
    if (win.points) from = Math.max(0, this.n - win.points);
    if (win.seconds && this.n) {
      const newest = this.t[(this.start + this.n - 1) % this.cap];
      const limit = newest - win.seconds * 1000;
      // Binary search for the first row at or after `limit`.
      let lo = 0;
      let hi = this.n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.t[(this.start + mid) % this.cap] < limit) lo = mid + 1;
        else hi = mid;
      }
      from = Math.max(from, lo);
    }
    const times = [];
    const columns = this.names.map(() => []);
    const cols = this.names.map((k) => this.cols.get(k));
    for (let i = from; i < this.n; i++) {
      const idx = (this.start + i) % this.cap;
      times.push(this.t[idx]);
      for (let j = 0; j < cols.length; j++) {
        const v = cols[j][idx];
        columns[j].push(Number.isNaN(v) ? null : v);
      }
    }
    return { times, columns };
  }
}

/** The chart of one store, redrawn at most `fps` times a second. */
export class Plot {
  /**
   * @param {HTMLElement} el
   * @param {HTMLElement} legend
   * @param {(key: string) => string} t
   */
  constructor(el, legend, t) {
    this.el = el;
    this.legendEl = legend;
    this.t = t;
    /** @type {PlotStore | null} */
    this.store = null;
    this.u = null;
    this.names = [];
    this.hidden = new Set();
    this.paused = false;
    this.autoscale = true;
    this.zoomed = false;
    this.win = { points: 500 };
    this.drawnVersion = -1;
    this.visible = false;
    this.fps = 30;
    this.lastDraw = -Infinity;
    this.frame = 0;
    new ResizeObserver(() => this.resize()).observe(el);
    el.addEventListener('wheel', (e) => this.wheel(e), { passive: false });
    el.addEventListener('dblclick', () => this.resetZoom());
  }

  /** @param {PlotStore | null} store */
  setSource(store) {
    if (store !== this.store) {
      this.store = store;
      this.zoomed = false;
      this.rebuild();
    }
  }

  setWindow(spec) {
    const n = Number(spec.slice(1));
    this.win = spec[0] === 's' ? { seconds: n } : { points: n };
    this.drawnVersion = -1;
    this.schedule();
  }

  setPaused(p) {
    this.paused = p;
    if (!p) this.schedule();
  }

  setAutoscale(on) {
    this.autoscale = on;
    if (this.u) {
      this.u.cursor.drag.y = !on;
      this.drawnVersion = -1;
      this.schedule();
    }
  }

  setVisible(v) {
    this.visible = v;
    if (v) {
      this.rebuild();
    }
  }

  resetZoom() {
    this.zoomed = false;
    this.drawnVersion = -1;
    this.schedule();
  }

  size() {
    const r = this.el.getBoundingClientRect();
    return { width: Math.max(200, Math.floor(r.width)), height: Math.max(150, Math.floor(r.height)) };
  }

  resize() {
    if (this.u && this.visible) this.u.setSize(this.size());
  }

  rebuild() {
    if (this.u) {
      this.u.destroy();
      this.u = null;
    }
    this.names = this.store ? [...this.store.names] : [];
    this.drawnVersion = -1;
    this.renderLegend();
    if (!this.visible || !this.store || !this.names.length || typeof uPlot === 'undefined') return;
    const self = this;
    const opts = {
      ...this.size(),
      legend: { show: false },
      cursor: { drag: { x: true, y: !this.autoscale, uni: 30 } },
      scales: {
        // A burst of points within a few milliseconds still gets a
        // readable time axis (uPlot would otherwise span years).
        x: {
          time: true,
          range: (u, min, max) => (min == null || max == null ? [0, 1] : max - min < 0.05 ? [max - 5, max + 0.1] : [min, max]),
        },
        y: { auto: () => self.autoscale },
      },
      axes: [{ stroke: '#555' }, { stroke: '#555', size: 60 }],
      series: [
        {},
        ...this.names.map((name, i) => ({
          label: name,
          stroke: PALETTE[i % PALETTE.length],
          width: 1.5,
          spanGaps: true,
          show: !this.hidden.has(name),
          points: { show: false },
        })),
      ],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width > 0) self.zoomed = true;
          },
        ],
      },
    };
    this.u = new uPlot(opts, this.data(), this.el);
    this.drawnVersion = this.store.version;
  }

  data() {
    const { times, columns } = this.store.window(this.win);
    return [times.map((x) => x / 1000), ...columns];
  }

  /** New points arrived (or the window changed): draw at a coming frame, at most `fps` times a second. */
  schedule() {
    if (this.frame || this.paused || !this.visible) return;
    this.frame = requestAnimationFrame((now) => {
      this.frame = 0;
      if (now - this.lastDraw < 1000 / this.fps - 2) {
        this.schedule();
        return;
      }
      this.draw();
    });
  }

  draw() {
    this.lastDraw = performance.now();
    if (this.paused || !this.visible || !this.store) return;
    if (this.store.names.length !== this.names.length) {
      this.rebuild();
      return;
    }
    this.renderLegendValues();
    if (!this.u || this.drawnVersion === this.store.version) return;
    this.drawnVersion = this.store.version;
    if (this.zoomed) {
      const { min, max } = this.u.scales.x;
      this.u.setData(this.data(), false);
      this.u.setScale('x', { min, max });
    } else {
      this.u.setData(this.data(), true);
    }
  }

  wheel(e) {
    if (!this.u) return;
    e.preventDefault();
    const { min, max } = this.u.scales.x;
    if (min == null || max == null) return;
    const rect = this.u.over.getBoundingClientRect();
    const frac = Math.min(1, Math.max(0, (e.clientX - rect.left) / rect.width));
    const at = min + (max - min) * frac;
    const f = e.deltaY < 0 ? 0.8 : 1.25;
    this.zoomed = true;
    this.u.setScale('x', { min: at - (at - min) * f, max: at + (max - at) * f });
  }

  renderLegend() {
    const el = this.legendEl;
    el.replaceChildren();
    const names = this.store ? this.store.names : [];
    names.forEach((name, i) => {
      const item = document.createElement('button');
      item.type = 'button';
      item.className = 'ser';
      item.dataset.testid = 'plot-series';
      item.dataset.name = name;
      if (this.hidden.has(name)) item.classList.add('off');
      const sw = document.createElement('i');
      sw.style.background = PALETTE[i % PALETTE.length];
      const label = document.createElement('span');
      label.textContent = name;
      const val = document.createElement('b');
      item.append(sw, label, val);
      item.title = this.t('plot.series.toggle');
      item.addEventListener('click', () => {
        if (this.hidden.has(name)) this.hidden.delete(name);
        else this.hidden.add(name);
        item.classList.toggle('off');
        if (this.u) this.u.setSeries(i + 1, { show: !this.hidden.has(name) });
      });
      el.append(item);
    });
    this.renderLegendValues();
  }

  renderLegendValues() {
    if (!this.store) return;
    for (const item of this.legendEl.children) {
      const v = this.store.last.get(item.dataset.name);
      const s = v == null ? '' : String(v);
      if (item.dataset.last !== s) {
        item.dataset.last = s;
        item.lastChild.textContent = s;
      }
    }
  }
}
