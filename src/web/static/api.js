// Requests to the JSON API (server.ts), the activity line while any is pending, and the error banner.
import { $ } from './dom.js';

/** Elapsed time and what the server is doing, while any request is pending. */
const activity = {
  pending: new Map(),
  nextId: 0,
  timers: null,
  begin(label) {
    const id = this.nextId++;
    this.pending.set(id, { label, start: performance.now() });
    if (!this.timers) {
      $('activity').hidden = false;
      this.timers = [setInterval(() => this.tick(), 100), setInterval(() => this.poll(), 600)];
    }
    this.tick();
    return () => {
      this.pending.delete(id);
      if (this.pending.size === 0) {
        for (const t of this.timers) clearInterval(t);
        this.timers = null;
        $('activity').hidden = true;
        $('activity-server').textContent = '';
      } else this.tick();
    };
  },
  tick() {
    const first = [...this.pending.values()][0];
    if (!first) return;
    $('activity-text').textContent = `${first.label}…`;
    $('activity-time').textContent = `${((performance.now() - first.start) / 1000).toFixed(1)} s`;
  },
  async poll() {
    try {
      const s = await (await fetch('/api/status')).json();
      $('activity-server').textContent = s.busy
        ? `server: ${s.busy}${s.waiting ? ` (+${s.waiting} waiting)` : ''}`
        : '';
    } catch {
      $('activity-server').textContent = 'server not answering';
    }
  },
};

/** A JSON API call; a failure throws an Error with the server's message (and `status`). */
export async function api(label, path, { json, body, query, method } = {}) {
  const done = activity.begin(label);
  try {
    const url = query ? `${path}?${new URLSearchParams(query)}` : path;
    const init =
      json !== undefined
        ? { method: 'POST', body: JSON.stringify(json), headers: { 'content-type': 'application/json' } }
        : body !== undefined
          ? { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } }
          : { method: method ?? 'GET' };
    let res;
    try {
      res = await fetch(url, init);
    } catch {
      throw new Error(`${label}: the server did not answer (is pss serve still running?)`);
    }
    const text = await res.text();
    let data;
    try {
      data = JSON.parse(text);
    } catch {
      throw new Error(`${label}: unexpected answer from the server (HTTP ${res.status})`);
    }
    if (!res.ok) throw Object.assign(new Error(data.error ?? `HTTP ${res.status}`), { status: res.status });
    return data;
  } finally {
    done();
  }
}

export function showError(message) {
  $('error-text').textContent = message;
  $('error').hidden = false;
}
export function clearError() {
  $('error').hidden = true;
}
const failureHandlers = [];
/** Called with every failure `attempt` shows (e.g. a model the server released: 404). */
export function onFailure(handler) {
  failureHandlers.push(handler);
}

/** Runs an action; its failure is shown in the page. */
export async function attempt(fn) {
  try {
    return await fn();
  } catch (e) {
    showError(e.message);
    for (const h of failureHandlers) h(e);
    return undefined;
  }
}
