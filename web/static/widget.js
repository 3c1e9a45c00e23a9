/* Feedback Hub survey widget: <script src="https://HUB/widget.js" data-key="pk_…" async></script>
   No eval, no inline style (CSS is a constructed stylesheet in a shadow root). */
(() => {
'use strict';
const W = window, D = document;
if (W.FeedbackHub && W.FeedbackHub.version) return; // embedded twice
const me = D.currentScript || D.querySelector('script[data-key][src*="widget.js"]');
if (!me) return;
const KEY = me.getAttribute('data-key') || '', HUB = new URL(me.src, location.href).origin;
const QUEUE = 'feedbackhub:queue', MAX_AGE = 7 * 864e5, MAX_DELAY = 3e5;
const SCALES = { nps: [0, 10], csat: [1, 5], ces: [1, 7], thumbs: [0, 1] };
const TEXT = {
  en: {
    open: 'Feedback', close: 'Close', send: 'Send', optional: '(optional)',
    sent: 'Thank you for your feedback!', follow: 'Tell us more',
    saved: 'Thank you! Your feedback will be sent when the connection is back.',
    failed: 'Sorry, your feedback could not be sent.', none: 'Sorry, feedback is not available here.',
    nps: ['How likely are you to recommend us to a friend or colleague?', 'Not likely', 'Very likely'],
    csat: ['How satisfied are you with your experience?', 'Very unsatisfied', 'Very satisfied'],
    ces: ['How easy was it to get what you needed?', 'Very difficult', 'Very easy'],
    thumbs: ['Was this helpful?', 'No', 'Yes'],
  },
  es: {
    open: 'Opinión', close: 'Cerrar', send: 'Enviar', optional: '(opcional)',
    sent: '¡Gracias por tu opinión!', follow: 'Cuéntanos más',
    saved: '¡Gracias! Tu opinión se enviará cuando vuelva la conexión.',
    failed: 'Lo sentimos, no se pudo enviar.', none: 'Lo sentimos, no es posible opinar aquí.',
    nps: ['¿Qué probabilidad hay de que nos recomiendes a un amigo o colega?', 'Nada probable', 'Muy probable'],
    csat: ['¿Qué tan satisfecho estás con tu experiencia?', 'Muy insatisfecho', 'Muy satisfecho'],
    ces: ['¿Qué tan fácil fue conseguir lo que necesitabas?', 'Muy difícil', 'Muy fácil'],
    thumbs: ['¿Te resultó útil?', 'No', 'Sí'],
  },
  pt: {
    open: 'Opinião', close: 'Fechar', send: 'Enviar', optional: '(opcional)',
    sent: 'Obrigado pela sua opinião!', follow: 'Conte-nos mais',
    saved: 'Obrigado! Sua opinião será enviada quando a conexão voltar.',
    failed: 'Desculpe, não foi possível enviar.', none: 'Desculpe, não é possível opinar aqui.',
    nps: ['Qual a probabilidade de você nos recomendar a um amigo ou colega?', 'Pouco provável', 'Muito provável'],
    csat: ['Qual o seu nível de satisfação com a sua experiência?', 'Muito insatisfeito', 'Muito satisfeito'],
    ces: ['Quão fácil foi conseguir o que você precisava?', 'Muito difícil', 'Muito fácil'],
    thumbs: ['Isto foi útil?', 'Não', 'Sim'],
  },
};
const LOCALE = (D.documentElement.lang || navigator.language || 'en').slice(0, 35);
const LANG = TEXT[LOCALE.slice(0, 2).toLowerCase()] ? LOCALE.slice(0, 2).toLowerCase() : 'en', T = TEXT[LANG];
const CSS = `:host{all:initial;position:fixed;z-index:2147483000;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330}
*{box-sizing:border-box;font:inherit;color:inherit}
[hidden]{display:none!important}
button{cursor:pointer;border:0;border-radius:6px;background:none}
button:hover{background:#eef2ff}
:focus-visible{outline:0;box-shadow:0 0 0 2px #fff,0 0 0 4px #1d2330}
.launcher,.send{padding:10px 20px;background:#3156d3;color:#fff;font-weight:600}
.launcher:hover,.send:hover{background:#2545b0}
.launcher{position:fixed;right:16px;bottom:16px;border-radius:99px;box-shadow:0 2px 10px #0004}
.backdrop{position:fixed;inset:0;background:#1118}
.panel{position:fixed;right:16px;bottom:16px;width:440px;max-width:calc(100vw - 16px);max-height:calc(100vh - 32px);overflow:auto;padding:18px;border-radius:12px;background:#fff;box-shadow:0 10px 40px #0006}
.head{display:flex;gap:12px;align-items:flex-start}
h2{flex:1;margin:0;font-size:17px;font-weight:600}
.x{width:32px;height:32px;margin:-6px -6px 0 0;color:#5f6b7a;font-size:22px}
.scale{display:flex;gap:4px;margin:16px 0 6px}
.scale button{display:flex;flex:1 1 0;align-items:center;justify-content:center;gap:8px;min-width:0;min-height:42px;padding:0;border:1px solid #5f6b7a;font-weight:600}
.scale [aria-checked=true]{background:#3156d3;border-color:#3156d3;color:#fff}
.thumbs{gap:12px}
.ends{display:flex;justify-content:space-between;font-size:13px}
.ends,label span{color:#5f6b7a}
label{display:block;margin:16px 0 6px;font-weight:600}
label span{font-weight:400}
textarea{display:block;width:100%;min-height:84px;padding:8px 10px;border:1px solid #5f6b7a;border-radius:6px;font-size:16px;resize:vertical}
.send{margin-top:12px}
.send:disabled{background:#6b7fc4}
.msg{margin:14px 0 0}
.msg:empty{display:none}
.err{color:#b42318;font-weight:600}
@media (max-width:480px){.panel{left:8px;right:8px;bottom:8px;width:auto;max-width:none}}`;

// Delivery: a localStorage queue of {k: idempotency key, b: body, n: tries, t: next try, w, c: made}.
let memory = [], busy = false, again = false, timer = 0;
const waiters = {};
const load = () => { try { return JSON.parse(localStorage.getItem(QUEUE) || '[]'); } catch (e) { return memory; } };
const save = (queue) => { memory = queue; try { localStorage.setItem(QUEUE, JSON.stringify(queue)); } catch (e) {} };
const edit = (key, change) => save(load().filter((item) => item.k !== key || change(item) !== false));
const settle = (key, outcome) => { const waiter = waiters[key]; delete waiters[key]; if (waiter) waiter(outcome); };
const uuid = () => {
  if (crypto.randomUUID) return crypto.randomUUID(); // secure contexts only
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
  return Array.from(b, (x, i) => ([4, 6, 8, 10].includes(i) ? '-' : '') + (x + 256).toString(16).slice(1)).join('');
};
const retryAfter = (response) => {
  const value = response.headers.get('Retry-After') || '';
  const ms = isNaN(value) ? Date.parse(value) - Date.now() : value * 1000;
  return Math.min(Math.max(ms || 0, 1000), 36e5);
};
const later = (item, wait) => edit(item.k, (it) => {
  it.n += 1;
  it.w = !!wait; // the hub asked for this wait: coming back online does not cut it short
  it.t = Date.now() + (wait || Math.min(MAX_DELAY, 1000 * 2 ** it.n * (0.5 + Math.random() / 2)));
});
const attempt = async (item) => {
  let response;
  try {
    response = await fetch(HUB + '/api/v1/responses', {
      method: 'POST', body: JSON.stringify(item.b),
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': item.k },
    });
  } catch (e) {
    later(item, 0); // offline or unreachable: try again later
    return settle(item.k, 'saved');
  }
  const status = response.status;
  if (status === 429 || status === 408 || status >= 500) {
    later(item, status === 429 && retryAfter(response));
    return settle(item.k, 'saved');
  }
  edit(item.k, () => false); // delivered (2xx), or refused (4xx) for good
  settle(item.k, response.ok ? 'sent' : 'failed');
};
const flush = async () => {
  if (busy) return void (again = true);
  busy = true;
  clearTimeout(timer);
  try {
    do {
      again = false;
      for (const item of load()) {
        if (Date.now() - item.c > MAX_AGE) edit(item.k, () => false);
        else if (item.t <= Date.now()) await attempt(item);
      }
    } while (again);
  } finally {
    busy = false;
    const due = load().map((item) => item.t);
    if (due.length) timer = setTimeout(flush, Math.max(0, Math.min(...due) - Date.now()));
  }
};

// The survey: GET /api/v1/widget/config (404 unknown key, 403 origin not allowed).
let config = null, state = 'wait';
const loadConfig = async () => {
  try {
    const response = await fetch(`${HUB}/api/v1/widget/config?key=${encodeURIComponent(KEY)}`);
    config = response.ok ? await response.json() : null;
  } catch (e) {
    config = null;
  }
  state = config && SCALES[config.type] ? 'ready' : 'none';
  if (isOpen) render();
};
const pick = (texts) => (typeof texts === 'string' ? texts : texts && (texts[LANG] || texts.en)) || '';

// The dialog.
let host, root, launcher, backdrop, panel, isOpen = false, wantOpen = false, opener = null, customer = null;
const h = (tag, attrs, kids) => {
  const el = D.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === 'text') el.textContent = value;
    else if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (value !== false) el.setAttribute(name, value === true ? '' : value);
  }
  el.append(...(kids || []).filter(Boolean));
  return el;
};
const focusables = () => [...panel.querySelectorAll('button,textarea')]
  .filter((el) => !el.disabled && el.tabIndex >= 0 && el.getClientRects().length);
const trap = (e) => {
  if (e.key === 'Escape') return close();
  if (e.key !== 'Tab') return;
  const items = focusables(), edge = items[e.shiftKey ? 0 : items.length - 1];
  if (root.activeElement === edge) {
    e.preventDefault();
    items[e.shiftKey ? items.length - 1 : 0].focus();
  }
};
const build = () => {
  host = h('feedback-hub-widget');
  root = host.attachShadow({ mode: 'open' });
  if (root.adoptedStyleSheets && CSSStyleSheet.prototype.replaceSync) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } else root.append(h('style', { text: CSS })); // old browsers; needs style-src to allow it
  launcher = h('button', { type: 'button', class: 'launcher', 'aria-haspopup': 'dialog', 'aria-expanded': 'false', text: T.open, onclick: open });
  launcher.hidden = me.getAttribute('data-launcher') === 'false';
  backdrop = h('div', { class: 'backdrop', hidden: true, onclick: close });
  panel = h('div', { class: 'panel', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'fh-title', hidden: true, onkeydown: trap });
  root.append(launcher, backdrop, panel);
  D.body.append(host);
  D.addEventListener('focusin', (e) => { if (isOpen && e.target !== host) focusables()[0].focus(); });
  if (wantOpen) open();
};
const scale = (type, ends, choose) => {
  const [low, high] = SCALES[type], buttons = [];
  for (let v = low; v <= high; v++) {
    const thumbs = type === 'thumbs', end = v === low ? ends[0] : v === high ? ends[1] : '';
    buttons.push(h('button', {
      type: 'button', role: 'radio', 'aria-checked': 'false', 'aria-label': thumbs ? end : end ? `${v}, ${end}` : v,
      tabindex: v === low ? 0 : -1, 'data-v': v,
    }, [thumbs && h('span', { 'aria-hidden': 'true', text: v ? '👍' : '👎' }), thumbs ? end : String(v)]));
  }
  if (type === 'thumbs') buttons.reverse(); // thumbs up first
  const select = (button) => {
    for (const b of buttons) {
      b.setAttribute('aria-checked', b === button);
      b.tabIndex = b === button ? 0 : -1;
    }
    choose(Number(button.dataset.v));
  };
  const onkeydown = (e) => {
    const i = buttons.indexOf(root.activeElement), n = buttons.length;
    const to = { ArrowRight: i + 1, ArrowDown: i + 1, ArrowLeft: i - 1, ArrowUp: i - 1, Home: 0, End: n - 1 }[e.key];
    if (i < 0 || to === undefined) return;
    e.preventDefault();
    const next = buttons[(to + n) % n];
    next.focus();
    select(next);
  };
  const onclick = (e) => { const b = e.target.closest('[role=radio]'); if (b) select(b); };
  return h('div', { role: 'radiogroup', 'aria-labelledby': 'fh-title', class: 'scale ' + type, onkeydown, onclick }, buttons);
};
const render = () => {
  let score = null, sending = false;
  const ready = state === 'ready', ends = ready && T[config.type].slice(1);
  const x = h('button', { type: 'button', class: 'x', 'aria-label': T.close, text: '×', onclick: close });
  const title = h('h2', { id: 'fh-title', text: ready ? pick(config.question) || T[config.type][0] : T.open });
  const msg = h('p', { class: state === 'none' ? 'msg err' : 'msg', role: 'status', text: ready ? '' : T[state] || '…' });
  panel.replaceChildren(h('div', { class: 'head' }, [title, x]), msg);
  if (!ready) return x.focus();
  const comment = h('textarea', { id: 'fh-comment', maxlength: 2000, rows: 3 });
  const send = h('button', { type: 'submit', class: 'send', text: T.send });
  const more = h('div', { hidden: true }, [
    h('label', { for: 'fh-comment' }, [`${pick(config.follow_up) || T.follow} `, h('span', { text: T.optional })]),
    comment, send,
  ]);
  const form = h('form', { novalidate: true }, [
    scale(config.type, ends, (value) => { score = value; more.hidden = false; }),
    config.type !== 'thumbs' && h('div', { class: 'ends', 'aria-hidden': 'true' }, [h('span', { text: ends[0] }), h('span', { text: ends[1] })]),
    more,
  ]);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (sending || score === null) return; // a double click sends once
    sending = send.disabled = true;
    msg.className = 'msg';
    msg.textContent = '…';
    const key = uuid();
    waiters[key] = (outcome) => {
      msg.textContent = T[outcome];
      if (outcome === 'failed') {
        sending = send.disabled = false;
        return void (msg.className = 'msg err');
      }
      form.hidden = true;
      x.focus();
    };
    const body = {
      key: KEY, score, comment: comment.value.trim() || null, customer, website: '', // website: a honeypot
      metadata: { page_url: location.href.slice(0, 2000), locale: LOCALE, referrer: D.referrer.slice(0, 2000) || null },
    };
    save(load().concat({ k: key, b: body, n: 0, t: 0, c: Date.now() }).slice(-50));
    flush();
  });
  panel.insertBefore(form, msg);
  panel.querySelector('[role=radio]').focus();
};
function open() {
  if (!panel) return void (wantOpen = true);
  if (isOpen) return;
  opener = D.activeElement === host ? root.activeElement : D.activeElement;
  isOpen = true;
  panel.hidden = backdrop.hidden = false;
  launcher.setAttribute('aria-expanded', 'true');
  render();
}
function close() {
  wantOpen = false;
  if (!isOpen) return;
  isOpen = false;
  panel.hidden = backdrop.hidden = true;
  launcher.setAttribute('aria-expanded', 'false');
  (opener && opener.isConnected && opener !== D.body ? opener : launcher).focus();
}
const cut = (value, max) => (value == null || value === '' ? null : String(value).slice(0, max));
const identify = (p) => {
  const c = p && { id: cut(p.id, 255), email: cut(p.email, 320), name: cut(p.name, 200),
    attributes: p.attributes && typeof p.attributes === 'object' ? p.attributes : null };
  customer = c && (c.id || c.email) ? c : null; // the hub links a response by id or email
};

W.FeedbackHub = { version: '1', open, close, identify };
W.addEventListener('online', () => { save(load().map((item) => ({ ...item, t: item.w ? item.t : 0 }))); flush(); });
flush(); // responses queued by an earlier visit
loadConfig();
if (D.body) build(); else D.addEventListener('DOMContentLoaded', build);
W.dispatchEvent(new Event('feedbackhub:ready'));
})();
