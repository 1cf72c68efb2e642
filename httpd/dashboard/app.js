// The dashboard: polls /dashboard/api/state every second and renders it; the buttons post
// actions. The session is an HttpOnly cookie: this code never sees a credential.
'use strict';

const POLL_MS = 1000;
const $ = (sel) => document.querySelector(sel);
const fmt = new Intl.NumberFormat('en-US');

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (res.status === 401) {
    location.reload(); // the session ended: back to the login page
    throw new Error('session ended');
  }
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(json.error || `HTTP ${res.status}`);
  return json;
}

function progressBar(c) {
  const pct = Math.round(c.progress * 1000) / 10;
  const bar = el('div', { class: 'bar' }, el('div', { class: `fill ${c.status}` }));
  bar.firstChild.style.width = `${Math.min(100, pct)}%`;
  const label = c.total ? `${pct}% · ${fmt.format(c.done)} / ${fmt.format(c.total)}` : (c.status === 'completed' ? '100%' : '—');
  return el('div', { class: 'progress' }, bar, el('span', { class: 'muted' }, label));
}

function actionButton(c) {
  let action = null;
  if (c.status === 'draft' || c.status === 'scheduled') action = 'start';
  if (c.status === 'in_progress') action = 'stop';
  if (!action) return '';
  const b = el('button', { class: action === 'stop' ? 'danger' : '', 'data-action': action, 'data-id': c.id }, action === 'stop' ? 'Stop' : 'Start');
  b.addEventListener('click', async () => {
    b.disabled = true;
    $('#action_error').textContent = '';
    try {
      await api('POST', `/dashboard/api/campaign/${action}`, { id: c.id });
      await refresh();
    } catch (e) {
      $('#action_error').textContent = `${action} ${c.id}: ${e.message}`;
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

function renderCampaigns(list) {
  const tbody = $('#campaigns tbody');
  tbody.replaceChildren(...list.map((c) => el('tr', { 'data-id': c.id, 'data-status': c.status },
    el('td', {}, el('div', {}, c.name || c.id), el('div', { class: 'muted small' }, c.id)),
    el('td', {}, el('span', { class: `status ${c.status}` }, c.status.replace('_', ' '))),
    el('td', {}, progressBar(c)),
    el('td', { class: 'num sent' }, fmt.format(c.sent)),
    el('td', { class: 'num' }, fmt.format(c.channels_created)),
    el('td', { class: 'num' }, fmt.format(c.skipped)),
    el('td', { class: 'num' }, fmt.format(c.read)),
    el('td', {}, actionButton(c)))));
  if (!list.length) tbody.append(el('tr', {}, el('td', { colSpan: 8, class: 'muted' }, 'No campaigns yet: create one with POST /campaigns.')));
}

function renderSegments(list) {
  const tbody = $('#segments tbody');
  tbody.replaceChildren(...list.map((s) => el('tr', {},
    el('td', {}, el('div', {}, s.name || s.id), el('div', { class: 'muted small' }, s.id)),
    el('td', {}, s.type), el('td', { class: 'num' }, fmt.format(s.size)))));
  if (!list.length) tbody.append(el('tr', {}, el('td', { colSpan: 3, class: 'muted' }, 'No segments.')));
}

function renderSinks(sinks, dead) {
  const tbody = $('#sinks tbody');
  tbody.replaceChildren(...sinks.map((s) => el('tr', { 'data-sink': s.sink },
    el('td', {}, s.sink), el('td', { class: 'num lag' }, fmt.format(s.lag)),
    el('td', { class: 'num' }, fmt.format(s.delivered)), el('td', { class: 'num' }, fmt.format(s.failed)))));
  if (!sinks.length) tbody.append(el('tr', {}, el('td', { colSpan: 4, class: 'muted' }, 'No sink configured (-kafka.brokers, -webhook.url).')));

  const dl = $('#deadletters tbody');
  dl.replaceChildren(...dead.map((d) => {
    const latest = d.items.length ? `${d.items[d.items.length - 1].type}: ${d.items[d.items.length - 1].last_error}` : '';
    let btn = '';
    if (d.sink === 'webhook' && d.count > 0) {
      btn = el('button', { 'data-replay': d.sink }, 'Replay');
      btn.addEventListener('click', async () => {
        btn.disabled = true;
        try {
          const r = await api('POST', '/dashboard/api/deadletters/replay', { sink: d.sink });
          $('#action_error').textContent = `replayed ${r.replayed}: ${r.delivered} delivered, ${r.failed} failed`;
          await refresh();
        } catch (e) {
          $('#action_error').textContent = `replay: ${e.message}`;
        } finally {
          btn.disabled = false;
        }
      });
    }
    return el('tr', { 'data-sink': d.sink }, el('td', {}, d.sink), el('td', { class: 'num count' }, d.more ? '1,000+' : fmt.format(d.count)),
      el('td', { class: 'muted small' }, latest), el('td', {}, btn));
  }));
}

function renderChart(rates) {
  const svg = $('#chart');
  // The chart spans the history there is (one sample a second), at least a minute, at most ten.
  const W = 600, H = 140, N = Math.min(600, Math.max(60, rates.length));
  const now = rates.length ? rates[rates.length - 1][0] : Math.floor(Date.now() / 1000);
  const byT = new Map(rates.map(([t, n]) => [t, n]));
  const pts = [];
  let peak = 0;
  for (let i = 0; i < N; i++) {
    const v = byT.get(now - (N - 1 - i)) || 0;
    pts.push(v);
    peak = Math.max(peak, v);
  }
  const top = Math.max(10, peak * 1.15);
  const xy = pts.map((v, i) => `${(i / (N - 1)) * W},${H - (v / top) * (H - 4)}`);
  const ns = 'http://www.w3.org/2000/svg';
  const mk = (tag, attrs) => { const e = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); return e; };
  const grid = [0.25, 0.5, 0.75].map((f) => mk('line', { x1: 0, x2: W, y1: H * f, y2: H * f, class: 'grid' }));
  $('#chart_span').textContent = N >= 120 ? `last ${Math.round(N / 60)} minutes` : `last ${N} seconds`;
  $('#chart_top').textContent = `${fmt.format(Math.round(top))}/s`;
  svg.replaceChildren(...grid,
    mk('polygon', { points: `0,${H} ${xy.join(' ')} ${W},${H}`, class: 'area' }),
    mk('polyline', { points: xy.join(' '), class: 'line' }));
  const last5 = pts.slice(-5);
  const nowRate = Math.round(last5.reduce((a, b) => a + b, 0) / last5.length);
  $('#rate_now').textContent = fmt.format(nowRate);
  $('#rate_peak').textContent = `peak ${fmt.format(peak)}/s`;
}

async function refresh() {
  const st = await api('GET', '/dashboard/api/state');
  $('#version').textContent = st.version ? `version ${st.version}` : '';
  $('#updated').textContent = `updated ${new Date(st.now).toLocaleTimeString('en-GB')}`;
  renderChart(st.rates);
  renderCampaigns(st.campaigns);
  renderSegments(st.segments);
  renderSinks(st.sinks, st.dead_letters);
  document.body.dataset.ready = 'true';
}

async function loop() {
  try {
    await refresh();
  } catch (e) {
    $('#updated').textContent = `update failed: ${e.message}`;
  }
  setTimeout(loop, POLL_MS);
}

$('#logout').addEventListener('click', async () => {
  await fetch('/dashboard/logout', { method: 'POST', credentials: 'same-origin' });
  location.reload();
});
loop();
