// picow serve's page: NetAssist's window in the browser.
//
// The server sends `picow serve --json` events (and a few `web.*` ones)
// over a WebSocket; the page keeps a bounded scroll-back, the client table,
// the plot's points, and sends commands back. Every visible string comes
// from the catalog of the chosen language (i18n/en.json, i18n/zh-CN.json).

import {
  parsePlotLine, displayText, bytesOfHex, spacedHex, plainHex, hexDump, clock, count,
  takeLines, pickLanguage, fill, plotCsv, visible,
} from './parse.js';
import { PlotStore, Plot } from './plot.js';
import { DataView, Ring, cells, cut } from './view.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const TOKEN = document.querySelector('meta[name="picow-token"]')?.getAttribute('content') || '';
const GONE_MAX = 50;
const HISTORY_MAX = 50;
const FILE_MAX = 512 * 1024;
const FILE_CHUNK = 32 * 1024;
const PLOT_CAP = 20000;
const ENTRY_BYTES_MAX = 16 * 1024 * 1024;

// ---------------------------------------------------------------- settings

const DEFAULTS = {
  view: 'text', time: 'local', wrap: true, only: false, sent: true, scrollback: 5000,
  hexsend: false, escapes: false, clear: false, ending: 'none', every: 1000,
  encoding: '', lang: null, gone: true, plot: false, plotWindow: 'p500',
  macros: [
    { label: 'ping', text: 'ping' }, { label: '', text: '' }, { label: '', text: '' },
    { label: '', text: '' }, { label: '', text: '' }, { label: '', text: '' },
  ],
};

/** What the user has set in this browser (the rest follows DEFAULTS and serve's flags). */
function savedSettings() {
  try {
    const v = JSON.parse(localStorage.getItem('picow.settings') || '{}');
    return v && typeof v === 'object' ? v : {};
  } catch {
    return {};
  }
}
const saved = savedSettings();
const settings = { ...DEFAULTS, ...saved };
if (typeof settings.time === 'boolean') settings.time = settings.time ? 'local' : 'off';
/** Keeps `keys` (the ones the user just changed) in this browser. */
function saveSettings(...keys) {
  for (const k of keys) saved[k] = settings[k];
  try {
    localStorage.setItem('picow.settings', JSON.stringify(saved));
  } catch { /* private mode: settings last for this page only */ }
}

/** serve's --utc, --hex and --line-ending, for what the user has not set here. */
function applyDefaults(d) {
  if (!d) return;
  const follow = { time: d.utc ? 'utc' : 'local', view: d.hex ? 'hex' : 'text', ending: d.ending };
  let changed = false;
  for (const [k, v] of Object.entries(follow)) {
    if (!(k in saved) && settings[k] !== v) {
      settings[k] = v;
      changed = true;
    }
  }
  if (!changed) return;
  /** @type {HTMLSelectElement} */ ($('opt-time')).value = settings.time;
  /** @type {HTMLSelectElement} */ ($('opt-ending')).value = settings.ending;
  for (const r of document.querySelectorAll('input[name="view"]')) {
    /** @type {HTMLInputElement} */ (r).checked = /** @type {HTMLInputElement} */ (r).value === settings.view;
  }
  renderSendMode();
}

/**
 * The terminal view's macros (serve.toml) are the quick sends until the
 * user edits them in this browser; they are sent as the terminal view
 * sends them: text with escapes, whatever the send box's settings.
 * @param {string[] | undefined} list
 */
function applyMacros(list) {
  if (!Array.isArray(list) || !list.length || 'macros' in saved) return;
  const ms = list.slice(0, 20).map((text) => ({ label: '', text: String(text), esc: true }));
  while (ms.length < DEFAULTS.macros.length) ms.push({ label: '', text: '' });
  const same = JSON.stringify(ms) === JSON.stringify(settings.macros);
  settings.macros = ms;
  if (!same) renderMacros();
}

// ---------------------------------------------------------------- i18n

let lang = pickLanguage(settings.lang, navigator.languages);
/** @type {Record<string, string>} */
let catalog = {};

/** The string `key` of the current language, with `{name}`s filled. */
export function t(key, vars) {
  const s = catalog[key];
  return fill(s === undefined ? key : s, vars);
}

async function setLanguage(l) {
  const resp = await fetch(`i18n/${l}.json`, { cache: 'no-store' });
  catalog = await resp.json();
  lang = l;
  document.documentElement.lang = l;
  $('lang-switch').value = l;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of document.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  document.title = t('app.title');
  renderAddresses();
  renderClients(true);
  renderTargets();
  renderMacros();
  renderHistory();
  renderAuto();
  renderLink();
  renderSendMode();
  renderAll();
  plot.renderLegend();
  document.body.dataset.lang = l;
}

// ---------------------------------------------------------------- state

/**
 * @typedef {{id: number, peer: string, since: number, kind: string, name: string|null,
 *   rx: number, tx: number, gone: boolean, until?: number, reason?: string, carry: string}} Client
 * @typedef {{k: 'in'|'out'|'sys', id?: number, t: number, text?: string, bytes?: Uint8Array,
 *   key?: string, vars?: Record<string, unknown>, el?: HTMLElement}} Entry
 */

const state = {
  /** @type {WebSocket | null} */ ws: null,
  link: 'connecting',
  snapshot: false,
  listening: null,
  offers: null,
  /** @type {Map<number, Client>} */ clients: new Map(),
  /** @type {'all' | number} */ selected: 'all',
  /** Every entry, shown or not (for saving and for other filters), oldest first. */
  entries: new Ring(settings.scrollback),
  entryBytes: 0,
  droppedIn: 0,
  totalRx: 0, totalTx: 0, baseRx: 0, baseTx: 0,
  /** @type {Map<number, {rx: number, tx: number}>} */ bases: new Map(),
  encodings: [['utf-8', 'UTF-8']],
  encoding: 'UTF-8',
  auto: { running: false },
  /** @type {Map<number, PlotStore>} */ stores: new Map(),
  plotSource: 'auto',
  searchHits: 0,
  history: loadHistory(),
  historyAt: -1,
  servedAt: null,
  paused: false,
};

function loadHistory() {
  try {
    const h = JSON.parse(localStorage.getItem('picow.history') || '[]');
    return Array.isArray(h) ? h.filter((x) => typeof x === 'string').slice(0, HISTORY_MAX) : [];
  } catch {
    return [];
  }
}

const plot = new Plot($('plot'), $('plot-legend'), t);

// ---------------------------------------------------------------- the link

let retry = 500;

function connect() {
  const q = TOKEN ? `?token=${encodeURIComponent(TOKEN)}` : '';
  const ws = new WebSocket(`ws://${location.host}/ws${q}`);
  state.ws = ws;
  state.link = 'connecting';
  renderLink();
  ws.onopen = () => {
    retry = 500;
    state.link = 'open';
    renderLink();
  };
  ws.onmessage = (ev) => {
    for (const line of String(ev.data).split('\n')) {
      if (!line) continue;
      let e;
      try {
        e = JSON.parse(line);
      } catch {
        continue;
      }
      handle(e);
    }
  };
  ws.onclose = (ev) => {
    state.ws = null;
    state.link = ev.code === 1008 ? 'refused' : 'closed';
    renderLink();
    if (ev.code !== 1008) {
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 5000);
    }
  };
}

/** Sends a command; false when the link is down. */
function command(cmd) {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) {
    flash(t('link.down'), true);
    return false;
  }
  if (TOKEN) cmd.token = TOKEN;
  state.ws.send(JSON.stringify(cmd));
  return true;
}

function renderLink() {
  const el = $('link-state');
  el.dataset.state = state.link;
  el.textContent = t(`link.${state.link}`);
}

// ---------------------------------------------------------------- events

function ms(rfc3339) {
  const v = Date.parse(rfc3339);
  return Number.isNaN(v) ? Date.now() : v;
}

function client(id) {
  let c = state.clients.get(id);
  if (!c) {
    c = { id, peer: '', since: Date.now(), kind: 'unknown', name: null, rx: 0, tx: 0, gone: false, carry: '' };
    state.clients.set(id, c);
  }
  return c;
}

function handle(e) {
  switch (e.event) {
    case 'web.hello':
      state.snapshot = true;
      state.encoding = e.encoding;
      state.encodings = e.encodings;
      applyDefaults(e.defaults);
      applyMacros(e.macros);
      state.entries.clear();
      state.entryBytes = 0;
      state.droppedIn = 0;
      state.clients = new Map();
      state.stores = new Map();
      // serve's own totals: every byte since it started, also of clients
      // the page no longer lists.
      state.totalRx = e.bytes_in ?? 0;
      state.totalTx = e.bytes_out ?? 0;
      renderEncodings();
      break;
    case 'web.ready': {
      state.snapshot = false;
      if (state.selected !== 'all' && !state.clients.has(state.selected)) state.selected = 'all';
      const want = settings.encoding;
      if (want && want.toLowerCase() !== state.encoding.toLowerCase()) {
        command({ cmd: 'encoding', name: want });
      }
      renderClients(true);
      renderTargets();
      renderAll();
      updatePlotSource();
      renderTotals();
      break;
    }
    case 'web.gone':
      for (const g of e.clients) {
        const c = client(g.id);
        Object.assign(c, {
          peer: g.peer, since: ms(g.since), kind: g.kind, name: g.name, rx: g.bytes_in, tx: g.bytes_out,
          gone: true, until: ms(g.until), reason: g.reason,
        });
      }
      break;
    case 'web.offers':
      state.offers = e;
      renderAddresses();
      break;
    case 'web.auto':
      state.auto = e;
      renderAuto();
      break;
    case 'web.error':
      problem(e);
      break;
    case 'listening':
      if (state.servedAt !== e.t) {
        // Another serve run: the ids start again, old counter bases are void.
        state.servedAt = e.t;
        state.bases.clear();
        state.baseRx = 0;
        state.baseTx = 0;
      }
      state.listening = e;
      renderAddresses();
      break;
    case 'clients': {
      for (const info of e.clients) {
        const c = client(info.id);
        Object.assign(c, {
          peer: info.peer, since: ms(info.since), kind: info.kind, name: info.name,
          rx: info.bytes_in, tx: info.bytes_out, gone: false,
        });
      }
      renderClients(true);
      break;
    }
    case 'connected': {
      addSys(e, 'log.connected', { id: e.id, peer: e.peer });
      if (state.snapshot) break;
      const c = client(e.id);
      Object.assign(c, { peer: e.peer, since: ms(e.t), gone: false });
      follow(c, 'peer');
      renderClients(true);
      renderTargets();
      break;
    }
    case 'picow': {
      addSys(e, e.name ? 'log.picow_named' : 'log.picow', { id: e.id, name: e.name });
      if (state.snapshot) break;
      const c = client(e.id);
      c.kind = 'picow';
      c.name = e.name;
      // Its rows' prefix has the name now.
      if (e.name) dview.invalidate();
      follow(c, 'name');
      renderClients(true);
      renderTargets();
      break;
    }
    case 'firmware': {
      // What the board runs: shown next to its name in the client list.
      if (state.snapshot) break;
      client(e.id).version = e.version;
      renderClients(true);
      break;
    }
    case 'data':
    case 'sent': {
      const incoming = e.event === 'data';
      const bytes = bytesOfHex(e.hex);
      const entry = { k: incoming ? 'in' : 'out', id: e.id, t: ms(e.t), text: e.text, bytes };
      addEntry(entry);
      if (incoming) feedPlot(e.id, entry.t, e.text);
      if (state.snapshot) break;
      const c = client(e.id);
      if (incoming) {
        c.rx += e.len;
        state.totalRx += e.len;
      } else {
        c.tx += e.len;
        state.totalTx += e.len;
      }
      if (c.kind === 'unknown' && incoming) c.kind = 'other';
      renderClients(false);
      renderTotals();
      break;
    }
    case 'disconnected': {
      addSys(e, 'log.disconnected', {
        id: e.id, reason: reason(e.reason), rx: count(e.bytes_in), tx: count(e.bytes_out),
      });
      if (state.snapshot) break;
      const c = client(e.id);
      Object.assign(c, { gone: true, until: ms(e.t), reason: e.reason, rx: e.bytes_in, tx: e.bytes_out });
      pruneGone();
      renderClients(true);
      renderTargets();
      break;
    }
    case 'refused':
      addSys(e, 'log.refused', { peer: e.peer, reason: reason(e.reason) });
      break;
    case 'expect':
      addSys(e, 'log.expect', { n: e.index + 1, pattern: e.pattern, id: e.id });
      break;
    case 'notice':
      addSys(e, ...notice(e.message));
      break;
    case 'error':
      addSys(e, 'log.error', { message: engineError(e.message) });
      break;
    case 'timeout':
      addSys(e, 'log.timeout', { unmet: e.unmet.join(', ') });
      break;
    case 'summary':
      addSys(e, 'log.summary', { clients: e.clients, rx: count(e.bytes_in), tx: count(e.bytes_out) });
      break;
    default:
      break;
  }
}

/** When a board comes back (same name, or same address), the selection follows it. */
function follow(c, by) {
  if (state.selected === 'all' || state.selected === c.id) return;
  const sel = state.clients.get(state.selected);
  if (!sel || !sel.gone) return;
  const ip = (p) => p.replace(/:\d+$/, '');
  const same = by === 'name' ? sel.name && sel.name === c.name : sel.kind !== 'picow' || !sel.name ? ip(sel.peer) === ip(c.peer) : false;
  if (same) {
    state.selected = c.id;
    flash(t('clients.followed', { from: sel.id, to: c.id }));
    if (settings.only) renderAll();
    updatePlotSource();
  }
}

function pruneGone() {
  const gone = [...state.clients.values()].filter((c) => c.gone).sort((a, b) => (a.until ?? 0) - (b.until ?? 0));
  while (gone.length > GONE_MAX) {
    const c = gone.shift();
    if (c.id !== state.selected) {
      state.clients.delete(c.id);
      state.stores.delete(c.id);
    }
  }
}

const REASONS = [
  [/^closed by peer \(unsent data dropped\)$/, 'reason.closed_dropped'],
  [/^closed by peer$/, 'reason.closed'],
  [/^reset by peer$/, 'reason.reset'],
  [/^aborted$/, 'reason.aborted'],
  [/^disconnected by the user$/, 'reason.user'],
  [/^server stopped$/, 'reason.stopped'],
  [/^timeout$/, 'reason.timeout'],
  [/^expectations met$/, 'reason.met'],
  [/^not reading/, 'reason.not_reading'],
  [/clients already connected/, 'reason.max_clients'],
];

/** A disconnect reason in the page's language (unknown ones as they are). */
function reason(r) {
  for (const [re, key] of REASONS) if (re.test(r)) return t(key);
  return r;
}

function notice(m) {
  let g = /^auto-send every (.+)$/.exec(m);
  if (g) return ['log.auto_on', { every: g[1] }];
  if (m === 'auto-send stopped') return ['log.auto_off', {}];
  return ['log.notice', { message: m }];
}

function engineError(m) {
  const g = /^no client #(\d+)/.exec(m);
  if (g) return t('err.no_client', { at: `#${g[1]}` });
  return m;
}

function problem(e) {
  const key = `err.${e.code}`;
  const msg = key in catalog ? t(key, { at: e.at ?? '' }) : e.message;
  if (e.cmd === 'auto') {
    renderAuto();
  }
  const el = $('send-error');
  el.textContent = msg;
  el.hidden = false;
  el.dataset.code = e.code;
  flash(msg, true);
}

// ---------------------------------------------------------------- the data view

function addSys(e, key, vars) {
  addEntry({ k: 'sys', id: e.id, t: ms(e.t), key, vars });
}

function addEntry(entry) {
  const out = state.entries.push(entry);
  if (entry.bytes) state.entryBytes += entry.bytes.length;
  if (out) dropEntry(out);
  while (state.entryBytes > ENTRY_BYTES_MAX && state.entries.length > 1) dropEntry(state.entries.shift());
  if (!state.snapshot && !state.paused && shows(entry)) dview.add(entry);
}

/** An entry left the scroll-back. */
function dropEntry(e) {
  state.entryBytes -= e.bytes?.length ?? 0;
  if (e.k === 'in') state.droppedIn += 1;
}

/** A new scroll-back size: the entries and the view keep the newest. */
function setScrollback(n) {
  for (const e of state.entries.resize(n)) dropEntry(e);
  dview.setCapacity(n);
}

function shows(e) {
  if (e.k === 'out' && !settings.sent) return false;
  if (settings.only && state.selected !== 'all' && e.id !== state.selected) return false;
  return true;
}

function label(id) {
  const c = state.clients.get(id);
  return c && c.name ? `#${id} ${c.name}` : `#${id}`;
}

/** The time shown before an entry, or '' when timestamps are off. */
function stampOf(ms) {
  return settings.time === 'off' ? '' : clock(ms, settings.time === 'utc');
}

/**
 * What an entry shows in the view: its prefix (time, client, direction),
 * then in text a line per line of it; in hex, one line of bytes; in both,
 * lines of 16 bytes with their ASCII.
 * @returns {import('./view.js').Shape}
 */
function shape(e) {
  const stamp = stampOf(e.t);
  let prefix = stamp ? stamp + ' ' : '';
  if (e.k !== 'sys') prefix += `${label(e.id)} ${e.k === 'in' ? '<' : '>'} `;
  if (e.k === 'sys') return { prefix, lines: t(e.key, e.vars).split('\n') };
  if (settings.view === 'hex') return { prefix, lines: [spacedHex(e.bytes)], step: 3 };
  if (settings.view === 'both') return { prefix, lines: hexDump(e.bytes).map(([h, a]) => `${h}  ${a}`) };
  return { prefix, lines: displayText(e.text ?? '').split('\n') };
}

const dview = new DataView($('data-view'), {
  shape,
  kind: (e) => e.k,
  id: (e) => e.id,
  size: (e) => (e.bytes ? e.bytes.length : 0) + 64,
  jump: (show) => {
    $('jump').hidden = !show;
  },
  drawn: renderSearchCount,
});
dview.maxBytes = ENTRY_BYTES_MAX;
dview.setCapacity(settings.scrollback);
dview.setWrap(settings.wrap);
document.fonts?.ready.then(() => dview.measure());

/** Shows the entries again (another filter, the end of a snapshot, a resume). */
function renderAll() {
  dview.reset(state.entries.filter(shows));
  renderSearchCount();
}

function renderSearchCount() {
  const s = dview.re ? t('rx.search.count', { n: dview.hits }) : '';
  const el = $('search-count');
  if (el.textContent !== s) el.textContent = s;
}

// ---------------------------------------------------------------- clients

let clientsTimer = 0;
let clientsDirty = false;

/** Redraws the client table: now for a change of who is there, at most 4 times a second for counters. */
function renderClients(now) {
  clientsDirty = true;
  if (now) {
    if (clientsTimer) {
      clearTimeout(clientsTimer);
      clientsTimer = 0;
    }
    drawClients();
  } else if (!clientsTimer) {
    clientsTimer = setTimeout(() => {
      clientsTimer = 0;
      drawClients();
    }, 250);
  }
}

function kindText(c) {
  if (c.kind === 'picow') return (c.name ? c.name : t('kind.picow')) + (c.version ? ` ${c.version}` : '');
  if (c.kind === 'other') return t('kind.other');
  return t('kind.unknown');
}

function shown(c, which) {
  const base = state.bases.get(c.id);
  const b = base ? base[which] : 0;
  return Math.max(0, c[which] - b);
}

let clientsShape = '';

function drawClients() {
  if (!clientsDirty || state.snapshot) return;
  clientsDirty = false;
  const rows = $('client-rows');
  const all = [...state.clients.values()];
  const live = all.filter((c) => !c.gone).sort((a, b) => a.id - b.id);
  const gone = all.filter((c) => c.gone).sort((a, b) => (b.until ?? 0) - (a.until ?? 0));
  $('client-count').textContent = String(live.length);
  // Only the counters changed: update them in place, so that a row being
  // clicked is not replaced under the pointer.
  const shape = JSON.stringify([
    lang, state.selected, settings.gone,
    live.map((c) => [c.id, c.kind, c.name, c.peer]),
    gone.map((c) => [c.id, c.kind, c.name, c.peer]),
  ]);
  if (shape === clientsShape) {
    for (const tr of rows.children) {
      const c = state.clients.get(Number(tr.dataset.id));
      if (!c) continue;
      const [rx, tx] = tr.querySelectorAll('td.num');
      const r = count(shown(c, 'rx'));
      const x = count(shown(c, 'tx'));
      if (rx.textContent !== r) rx.textContent = r;
      if (tx.textContent !== x) tx.textContent = x;
    }
    return;
  }
  clientsShape = shape;
  const frag = document.createDocumentFragment();
  const allRow = document.createElement('tr');
  allRow.className = 'all';
  allRow.dataset.id = 'all';
  if (state.selected === 'all') allRow.classList.add('sel');
  const cell = document.createElement('td');
  cell.colSpan = 7;
  cell.textContent = t('clients.all', { n: live.length });
  allRow.append(cell);
  frag.append(allRow);
  const row = (c) => {
    const tr = document.createElement('tr');
    tr.dataset.id = String(c.id);
    tr.dataset.testid = 'client-row';
    if (c.gone) {
      tr.classList.add('gone');
      tr.title = t('clients.gone_title', { reason: reason(c.reason ?? ''), at: clock(c.until ?? 0) });
    }
    if (state.selected === c.id) tr.classList.add('sel');
    const td = (text, cls) => {
      const d = document.createElement('td');
      d.textContent = text;
      if (cls) d.className = cls;
      tr.append(d);
      return d;
    };
    td(`#${c.id}`);
    const name = td(kindText(c), 'name');
    name.dataset.kind = c.kind;
    td(c.peer);
    td(clock(c.since, settings.time === 'utc'));
    td(count(shown(c, 'rx')), 'num');
    td(count(shown(c, 'tx')), 'num');
    const act = document.createElement('td');
    if (!c.gone) {
      const b = document.createElement('button');
      b.textContent = t('clients.disconnect');
      b.dataset.testid = 'disconnect';
      b.dataset.id = String(c.id);
      act.append(b);
    } else {
      act.textContent = t('clients.gone');
      act.className = 'gone-tag';
    }
    tr.append(act);
    return tr;
  };
  for (const c of live) frag.append(row(c));
  if (gone.length) {
    const head = document.createElement('tr');
    head.className = 'gone-head';
    const hc = document.createElement('td');
    hc.colSpan = 7;
    hc.textContent = t('clients.gone_group', { n: gone.length });
    head.append(hc);
    frag.append(head);
    if (settings.gone) for (const c of gone) frag.append(row(c));
  }
  rows.replaceChildren(frag);
}

function select(id) {
  state.selected = id;
  renderClients(true);
  renderTargets();
  if (settings.only) renderAll();
  updatePlotSource();
}

function renderTargets() {
  const sel = /** @type {HTMLSelectElement} */ ($('send-target'));
  const opts = [['all', t('clients.all', { n: [...state.clients.values()].filter((c) => !c.gone).length })]];
  for (const c of [...state.clients.values()].sort((a, b) => a.id - b.id)) {
    if (!c.gone || c.id === state.selected) {
      opts.push([String(c.id), `#${c.id} ${kindText(c)} ${c.peer}${c.gone ? ' ' + t('clients.gone') : ''}`]);
    }
  }
  sel.replaceChildren(...opts.map(([v, text]) => new Option(text, v)));
  sel.value = String(state.selected);
}

let totalsFrame = 0;

/** The status bar's counters, at most once a frame (not once a read). */
function renderTotals() {
  if (totalsFrame) return;
  totalsFrame = requestAnimationFrame(() => {
    totalsFrame = 0;
    const rx = count(Math.max(0, state.totalRx - state.baseRx));
    const tx = count(Math.max(0, state.totalTx - state.baseTx));
    const r = $('total-rx');
    const x = $('total-tx');
    if (r.textContent !== rx) r.textContent = rx;
    if (x.textContent !== tx) x.textContent = tx;
  });
}

function resetCounters() {
  state.baseRx = state.totalRx;
  state.baseTx = state.totalTx;
  for (const c of state.clients.values()) state.bases.set(c.id, { rx: c.rx, tx: c.tx });
  renderTotals();
  renderClients(true);
}

// ---------------------------------------------------------------- addresses

function renderAddresses() {
  const e = state.listening;
  const list = $('net-addrs');
  list.replaceChildren();
  if (!e) return;
  $('net-proto').textContent = e.transport.toUpperCase();
  $('net-local').textContent = e.local.join(', ');
  const offers = state.offers ? state.offers.offers : [];
  const warn = $('net-warning');
  if (state.offers && state.offers.loopback_only) {
    warn.textContent = t('net.loopback');
    warn.hidden = false;
  } else if (state.offers && !offers.length) {
    warn.textContent = t('net.none');
    warn.hidden = false;
  } else {
    warn.hidden = true;
  }
  for (const o of offers) {
    const li = document.createElement('li');
    li.dataset.testid = 'net-addr';
    if (o.virtual) li.classList.add('virtual');
    const head = document.createElement('div');
    head.className = 'ip';
    head.textContent = `${o.ip}${o.iface ? ` (${o.iface})` : ''}`;
    if (o.likely && !state.offers.loopback_only) {
      const star = document.createElement('span');
      star.className = 'best';
      star.textContent = t('net.best');
      head.append(' ', star);
    } else if (o.virtual && !state.offers.loopback_only) {
      const v = document.createElement('span');
      v.className = 'virt';
      v.textContent = t('net.virtual');
      head.append(' ', v);
    }
    li.append(head);
    li.append(
      copyRow(t('net.flash'), `picow flash --server ${o.server}`, 'hint-flash'),
      copyRow(t('net.micropython'), o.micropython, 'hint-micropython'),
    );
    list.append(li);
  }
}

function copyRow(title, value, testid) {
  const row = document.createElement('div');
  row.className = 'copy';
  const s = document.createElement('span');
  s.textContent = title;
  const code = document.createElement('code');
  code.textContent = value;
  code.dataset.testid = testid;
  const b = document.createElement('button');
  b.textContent = t('net.copy');
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(value);
      flash(t('net.copied'));
    } catch {
      const r = document.createRange();
      r.selectNodeContents(code);
      const sel = getSelection();
      sel?.removeAllRanges();
      sel?.addRange(r);
      flash(t('net.copy_manual'));
    }
  });
  row.append(s, code, b);
  return row;
}

// ---------------------------------------------------------------- sending

function payloadOf(text) {
  if (settings.hexsend) return { hex: text };
  return { text, escapes: settings.escapes, ending: settings.ending };
}

function target() {
  const sel = state.selected;
  if (sel === 'all') return 'all';
  const c = state.clients.get(sel);
  if (!c || c.gone) {
    const msg = t('err.gone', { at: `#${sel}` });
    const el = $('send-error');
    el.textContent = msg;
    el.hidden = false;
    el.dataset.code = 'gone';
    return null;
  }
  return sel;
}

/** Sends `text` as the send box's settings say (`esc`: as text with escapes, a terminal view's macro). */
function sendText(text, esc = false) {
  $('send-error').hidden = true;
  const to = target();
  if (to === null) return false;
  if (!text && ((settings.hexsend && !esc) || settings.ending === 'none')) {
    flash(t('tx.empty'), true);
    return false;
  }
  const data = esc ? { text, escapes: true, ending: settings.ending } : payloadOf(text);
  return command({ cmd: 'send', to, data });
}

function send() {
  const input = /** @type {HTMLTextAreaElement} */ ($('send-input'));
  const text = input.value;
  if (!sendText(text)) return;
  if (text) {
    state.history = [text, ...state.history.filter((h) => h !== text)].slice(0, HISTORY_MAX);
    try {
      localStorage.setItem('picow.history', JSON.stringify(state.history));
    } catch { /* not kept */ }
    renderHistory();
  }
  state.historyAt = -1;
  if (settings.clear) input.value = '';
}

function renderHistory() {
  const sel = /** @type {HTMLSelectElement} */ ($('send-history'));
  const first = new Option(t('tx.history.pick'), '');
  sel.replaceChildren(first, ...state.history.map((h) => new Option(visible(h).slice(0, 60), h)));
}

function renderSendMode() {
  const parts = [settings.hexsend ? t('tx.mode.hex') : t('tx.mode.text', { enc: state.encoding })];
  if (!settings.hexsend && settings.escapes) parts.push(t('tx.mode.escapes'));
  if (!settings.hexsend && settings.ending !== 'none') parts.push(settings.ending.toUpperCase());
  $('send-mode').textContent = parts.join(' · ');
}

function toggleAuto() {
  const box = /** @type {HTMLInputElement} */ ($('opt-auto'));
  const want = box.checked;
  box.checked = state.auto.running;
  if (!want) {
    command({ cmd: 'auto_stop' });
    return;
  }
  $('send-error').hidden = true;
  const to = target();
  if (to === null) return;
  const every = Number(/** @type {HTMLInputElement} */ ($('opt-every')).value);
  if (!(every >= 10 && every <= 86400000)) {
    flash(t('err.bad_period'), true);
    return;
  }
  command({ cmd: 'auto', to, every_ms: Math.round(every), data: payloadOf(/** @type {HTMLTextAreaElement} */ ($('send-input')).value) });
}

let autoTimer = 0;

function renderAuto() {
  const a = state.auto;
  const el = $('auto-state');
  el.dataset.running = String(Boolean(a.running));
  /** @type {HTMLInputElement} */ ($('opt-auto')).checked = Boolean(a.running);
  clearInterval(autoTimer);
  if (a.running) {
    const to = a.to === 'all' ? t('clients.all_short') : `#${a.to}`;
    const show = () => {
      // Sends so far: one per period since it started, as the engine's
      // interval ticks (the terminal view counts the same way).
      const n = Math.max(0, Math.floor((Date.now() - (a.since_ms ?? Date.now())) / a.every_ms));
      el.textContent = t('tx.auto.running', { every: a.every_ms, to, len: a.len, n });
    };
    show();
    autoTimer = setInterval(show, Math.max(250, Math.min(1000, a.every_ms)));
    el.classList.add('on');
  } else {
    el.textContent = t('tx.auto.stopped');
    el.classList.remove('on');
  }
}

async function sendFile(file) {
  if (file.size > FILE_MAX) {
    flash(t('tx.file.too_big', { max: count(FILE_MAX) }), true);
    return;
  }
  const to = target();
  if (to === null) return;
  const bytes = new Uint8Array(await file.arrayBuffer());
  for (let i = 0; i < bytes.length; i += FILE_CHUNK) {
    if (!command({ cmd: 'send', to, data: { hex: plainHex(bytes.subarray(i, i + FILE_CHUNK)) } })) return;
  }
  flash(t('tx.file.sent', { name: file.name, n: count(bytes.length) }));
}

function renderMacros() {
  const box = $('macros');
  box.replaceChildren();
  settings.macros.forEach((m, i) => {
    const row = document.createElement('div');
    row.className = 'macro';
    const name = document.createElement('input');
    name.value = m.label;
    name.placeholder = t('macro.name', { n: i + 1 });
    name.className = 'mname';
    const text = document.createElement('input');
    text.value = m.text;
    text.placeholder = t('macro.text');
    text.dataset.testid = 'macro-text';
    const b = document.createElement('button');
    b.textContent = m.label || t('macro.send', { n: i + 1 });
    b.dataset.testid = 'macro-send';
    if (m.esc) {
      b.title = t('macro.from_serve', { n: i + 1 });
      b.classList.add('esc');
    }
    const save = () => {
      settings.macros[i] = m.esc ? { label: name.value, text: text.value, esc: true } : { label: name.value, text: text.value };
      b.textContent = name.value || t('macro.send', { n: i + 1 });
      saveSettings('macros');
    };
    name.addEventListener('change', save);
    text.addEventListener('change', save);
    b.addEventListener('click', () => {
      save();
      if (m.esc) sendText(text.value, true);
      else if (text.value || !settings.hexsend) sendText(text.value);
    });
    row.append(b, name, text);
    box.append(row);
  });
}

// ---------------------------------------------------------------- saving

function download(name, blob) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

function stamp() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

function saveReceived() {
  const sel = state.selected;
  const parts = state.entries.filter((e) => e.k === 'in' && (sel === 'all' || e.id === sel)).map((e) => e.bytes);
  const who = sel === 'all' ? 'all' : `client${sel}`;
  download(`picow-received-${who}-${stamp()}.bin`, new Blob(parts, { type: 'application/octet-stream' }));
  const n = parts.reduce((a, b) => a + b.length, 0);
  flash(state.droppedIn ? t('rx.save.partial', { n: count(n) }) : t('rx.save.done', { n: count(n) }));
}

/** The view as text lines, as it is shown (mode, timestamps, filter). */
function viewLines() {
  const out = [];
  for (const e of state.entries.filter(shows)) {
    const stamp = stampOf(e.t);
    const head = (stamp ? stamp + ' ' : '') + (e.k === 'sys' ? '' : `${label(e.id)} ${e.k === 'in' ? '<' : '>'} `);
    if (e.k === 'sys') out.push(head + t(e.key, e.vars));
    else if (settings.view === 'hex') out.push(head + spacedHex(e.bytes));
    else if (settings.view === 'both') for (const [h, a] of hexDump(e.bytes)) out.push(`${head}${h}  ${a}`);
    else for (const line of displayText(e.text ?? '').split('\n')) out.push(head + line);
  }
  return out;
}

function saveText() {
  const lines = viewLines();
  download(`picow-view-${stamp()}.txt`, new Blob([lines.join('\r\n') + '\r\n'], { type: 'text/plain;charset=utf-8' }));
  flash(t('rx.save_text.done', { n: lines.length }));
}

// ---------------------------------------------------------------- plot

function feedPlot(id, tMs, text) {
  const c = client(id);
  const [lines, rest] = takeLines(c.carry, text);
  c.carry = rest;
  let fed = false;
  for (const line of lines) {
    const pairs = parsePlotLine(line);
    if (!pairs) continue;
    let store = state.stores.get(id);
    if (!store) {
      store = new PlotStore(PLOT_CAP);
      state.stores.set(id, store);
      if (!state.snapshot) updatePlotSource();
    }
    store.push(tMs, pairs);
    fed = true;
  }
  if (fed && plot.store === state.stores.get(id)) plot.schedule();
}

function plotClient() {
  if (state.plotSource !== 'auto') return Number(state.plotSource);
  if (state.selected !== 'all') return state.selected;
  const ids = [...state.stores.keys()].sort((a, b) => a - b);
  const live = ids.find((id) => !state.clients.get(id)?.gone);
  return live ?? ids[0] ?? null;
}

function updatePlotSource() {
  const sel = /** @type {HTMLSelectElement} */ ($('plot-source'));
  const opts = [new Option(t('plot.source.auto'), 'auto')];
  for (const id of [...state.stores.keys()].sort((a, b) => a - b)) opts.push(new Option(label(id), String(id)));
  sel.replaceChildren(...opts);
  sel.value = state.plotSource;
  if (sel.value !== state.plotSource) {
    state.plotSource = 'auto';
    sel.value = 'auto';
  }
  const id = plotClient();
  const store = id == null ? null : state.stores.get(id) ?? null;
  plot.setSource(store);
  $('plot-empty').hidden = Boolean(store && store.names.length);
  plot.schedule();
}

function exportCsv() {
  const store = plot.store;
  if (!store) {
    flash(t('plot.csv.none'), true);
    return;
  }
  const { times, columns } = store.window({});
  const id = plotClient();
  download(`picow-plot-client${id}-${stamp()}.csv`, new Blob([plotCsv(store.names, times, columns)], { type: 'text/csv' }));
}

// ---------------------------------------------------------------- status line

let flashTimer = 0;

function flash(msg, bad = false) {
  const el = $('status-msg');
  el.textContent = msg;
  el.classList.toggle('bad', bad);
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => {
    el.textContent = '';
  }, 6000);
}

function renderEncodings() {
  const sel = /** @type {HTMLSelectElement} */ ($('opt-encoding'));
  sel.replaceChildren(...state.encodings.map(([labelText, name]) => new Option(name, labelText)));
  const cur = state.encodings.find(([, name]) => name.toLowerCase() === state.encoding.toLowerCase());
  if (cur) sel.value = cur[0];
  renderSendMode();
}

// ---------------------------------------------------------------- wiring

function bindCheck(id, key, after) {
  const el = /** @type {HTMLInputElement} */ ($(id));
  el.checked = Boolean(settings[key]);
  el.addEventListener('change', () => {
    settings[key] = el.checked;
    saveSettings(key);
    after?.();
  });
}

function wire() {
  $('lang-switch').addEventListener('change', (e) => {
    const l = /** @type {HTMLSelectElement} */ (e.target).value;
    settings.lang = l;
    saveSettings('lang');
    setLanguage(l);
  });
  for (const r of document.querySelectorAll('input[name="view"]')) {
    const radio = /** @type {HTMLInputElement} */ (r);
    radio.checked = radio.value === settings.view;
    radio.addEventListener('change', () => {
      settings.view = radio.value;
      saveSettings('view');
      dview.invalidate();
    });
  }
  const time = /** @type {HTMLSelectElement} */ ($('opt-time'));
  time.value = settings.time;
  time.addEventListener('change', () => {
    settings.time = time.value;
    saveSettings('time');
    dview.invalidate();
  });
  bindCheck('opt-wrap', 'wrap', () => dview.setWrap(settings.wrap));
  bindCheck('opt-only', 'only', renderAll);
  bindCheck('opt-sent', 'sent', renderAll);
  bindCheck('opt-hexsend', 'hexsend', renderSendMode);
  bindCheck('opt-escapes', 'escapes', renderSendMode);
  bindCheck('opt-clear', 'clear');
  bindCheck('opt-gone', 'gone', () => renderClients(true));
  const pause = /** @type {HTMLInputElement} */ ($('opt-pause'));
  pause.addEventListener('change', () => {
    state.paused = pause.checked;
    $('paused-note').hidden = !pause.checked;
    if (!pause.checked) renderAll();
  });
  const ending = /** @type {HTMLSelectElement} */ ($('opt-ending'));
  ending.value = settings.ending;
  ending.addEventListener('change', () => {
    settings.ending = ending.value;
    saveSettings('ending');
    renderSendMode();
  });
  const sb = /** @type {HTMLInputElement} */ ($('opt-scrollback'));
  sb.value = String(settings.scrollback);
  sb.addEventListener('change', () => {
    const v = Math.round(Number(sb.value));
    settings.scrollback = Number.isFinite(v) ? Math.min(100000, Math.max(100, v)) : DEFAULTS.scrollback;
    sb.value = String(settings.scrollback);
    saveSettings('scrollback');
    setScrollback(settings.scrollback);
  });
  const every = /** @type {HTMLInputElement} */ ($('opt-every'));
  every.value = String(settings.every);
  every.addEventListener('change', () => {
    settings.every = Number(every.value);
    saveSettings('every');
  });
  $('opt-encoding').addEventListener('change', (e) => {
    const name = /** @type {HTMLSelectElement} */ (e.target).value;
    settings.encoding = name;
    saveSettings('encoding');
    command({ cmd: 'encoding', name });
  });
  $('opt-auto').addEventListener('change', toggleAuto);
  $('btn-clear').addEventListener('click', () => {
    state.entries.clear();
    state.entryBytes = 0;
    state.droppedIn = 0;
    renderAll();
  });
  $('btn-save').addEventListener('click', saveReceived);
  $('btn-save-text').addEventListener('click', saveText);
  $('btn-reset').addEventListener('click', resetCounters);
  $('jump').addEventListener('click', () => {
    dview.toEnd();
    $('jump').hidden = true;
  });
  let searchTimer = 0;
  $('search').addEventListener('input', (e) => {
    clearTimeout(searchTimer);
    const v = /** @type {HTMLInputElement} */ (e.target).value;
    searchTimer = setTimeout(() => {
      dview.setSearch(v);
      renderSearchCount();
    }, 150);
  });
  $('search').addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      dview.nextMatch(e.shiftKey);
    }
  });
  $('client-rows').addEventListener('click', (e) => {
    const el = /** @type {HTMLElement} */ (e.target);
    if (el.dataset.testid === 'disconnect') {
      command({ cmd: 'disconnect', id: Number(el.dataset.id) });
      return;
    }
    const tr = el.closest('tr');
    if (!tr || !tr.dataset.id) {
      if (tr?.classList.contains('gone-head')) {
        settings.gone = !settings.gone;
        /** @type {HTMLInputElement} */ ($('opt-gone')).checked = settings.gone;
        saveSettings('gone');
        renderClients(true);
      }
      return;
    }
    select(tr.dataset.id === 'all' ? 'all' : Number(tr.dataset.id));
  });
  $('send-target').addEventListener('change', (e) => {
    const v = /** @type {HTMLSelectElement} */ (e.target).value;
    select(v === 'all' ? 'all' : Number(v));
  });
  $('send-button').addEventListener('click', send);
  const input = /** @type {HTMLTextAreaElement} */ ($('send-input'));
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    } else if (e.key === 'ArrowUp' && !input.value.slice(0, input.selectionStart).includes('\n')) {
      if (state.historyAt + 1 < state.history.length) {
        e.preventDefault();
        state.historyAt += 1;
        input.value = state.history[state.historyAt];
      }
    } else if (e.key === 'ArrowDown' && !input.value.slice(input.selectionEnd).includes('\n')) {
      if (state.historyAt >= 0) {
        e.preventDefault();
        state.historyAt -= 1;
        input.value = state.historyAt >= 0 ? state.history[state.historyAt] : '';
      }
    } else if (e.key === 'Escape') {
      $('send-error').hidden = true;
    }
  });
  $('send-history').addEventListener('change', (e) => {
    const sel = /** @type {HTMLSelectElement} */ (e.target);
    if (sel.value) input.value = sel.value;
    sel.value = '';
    input.focus();
  });
  $('btn-file').addEventListener('click', () => $('file-input').click());
  $('file-input').addEventListener('change', (e) => {
    const f = /** @type {HTMLInputElement} */ (e.target).files?.[0];
    if (f) sendFile(f);
    /** @type {HTMLInputElement} */ (e.target).value = '';
  });
  // The plot.
  const plotBox = $('plot-box');
  const showPlot = /** @type {HTMLInputElement} */ ($('opt-plot'));
  showPlot.checked = settings.plot;
  plotBox.hidden = !settings.plot;
  plot.setVisible(settings.plot);
  showPlot.addEventListener('change', () => {
    settings.plot = showPlot.checked;
    saveSettings('plot');
    plotBox.hidden = !settings.plot;
    plot.setVisible(settings.plot);
    updatePlotSource();
  });
  $('plot-source').addEventListener('change', (e) => {
    state.plotSource = /** @type {HTMLSelectElement} */ (e.target).value;
    updatePlotSource();
  });
  const pp = /** @type {HTMLInputElement} */ ($('plot-pause'));
  pp.addEventListener('change', () => plot.setPaused(pp.checked));
  const pa = /** @type {HTMLInputElement} */ ($('plot-auto'));
  pa.addEventListener('change', () => plot.setAutoscale(pa.checked));
  const pw = /** @type {HTMLSelectElement} */ ($('plot-window'));
  pw.value = settings.plotWindow;
  plot.setWindow(pw.value);
  pw.addEventListener('change', () => {
    settings.plotWindow = pw.value;
    saveSettings('plotWindow');
    plot.setWindow(pw.value);
  });
  $('plot-reset').addEventListener('click', () => plot.resetZoom());
  $('plot-csv').addEventListener('click', exportCsv);
}

// For the browser tests: the pure functions and a look at the state.
window.picowTest = {
  parsePlotLine, displayText, takeLines, pickLanguage, plot, Ring, cells, cut, view: dview,
  state: () => ({
    selected: state.selected, entries: state.entries.length, clients: state.clients.size,
    encoding: state.encoding, lang, link: state.link, shown: dview.entries.length,
    rows: dview.end - dview.base, domRows: dview.domRows(), rx: state.totalRx, tx: state.totalTx,
  }),
};

wire();
renderHistory();
renderAuto();
setLanguage(lang).finally(connect);
