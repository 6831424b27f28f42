// Distill dashboard: plain JavaScript, no build step. Talks to the gateway's JSON API
// (/v1/...) with the API key kept in localStorage, and follows tasks live over
// Server-Sent Events read with fetch (EventSource cannot send an Authorization header).
"use strict";

(() => {
  const KEY_STORE = "distill.apiKey";
  const PUSH_STORE = "distill.pushSubscriptionId";
  const PAGE_SIZE = 20;
  const PUSH_TIMEOUT_MS = 15000; // a browser whose push service is unreachable may never answer
  const STAGES = ["STAGE_PARSE", "STAGE_AI", "STAGE_NOTION"];
  const STAGE_NAME = { STAGE_PARSE: "parse", STAGE_AI: "ai", STAGE_NOTION: "export" };
  const TERMINAL = new Set([
    "TASK_STATUS_SUCCEEDED", "TASK_STATUS_PARTIALLY_FAILED", "TASK_STATUS_FAILED", "TASK_STATUS_CANCELLED",
  ]);
  const PHASE_TEXT = {
    pending: "waiting", running: "running", retrying: "retrying", succeeded: "done", failed: "failed",
    cancelled: "cancelled", skipped: "not run",
  };

  const $ = (id) => document.getElementById(id);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  /** "TASK_STATUS_PARTIALLY_FAILED" -> "partially_failed" */
  const short = (name) => String(name || "").replace(/^(TASK|ITEM|PHASE)_STATUS_/, "").toLowerCase();
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const REPORT_FORMAT = { REPORT_FORMAT_PDF: "PDF", REPORT_FORMAT_MARKDOWN: "Markdown", REPORT_FORMAT_JSON: "JSON" };

  /** 1234567 -> "1.2 MB" */
  function bytes(n) {
    const units = ["bytes", "kB", "MB", "GB"];
    let v = Number(n) || 0;
    let u = 0;
    while (v >= 1000 && u < units.length - 1) {
      v /= 1000;
      u += 1;
    }
    return u === 0 ? `${v} ${units[0]}` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
  }

  const state = {
    filter: "",
    tokens: [""], // page_token of each page seen so far
    page: 0,
    listed: new Set(), // ids of the tasks on the current page
    listWatch: null,
    reloadTimer: null,
    selected: null,
    task: null,
    items: new Map(),
    itemEls: new Map(),
    watch: null,
    watchOver: false,
    refreshing: new Set(),
    files: [], // chosen for upload, in order
    upload: null, // the XMLHttpRequest in flight
    report: 0, // bumped when the task changes: a report being fetched for the old one is dropped
  };

  // --- messages ---------------------------------------------------------------------------

  function say(text, error = false) {
    const box = $("status");
    const msg = document.createElement("div");
    msg.className = error ? "msg error" : "msg";
    if (error) msg.setAttribute("role", "alert");
    msg.textContent = text;
    box.replaceChildren(msg);
  }

  // --- the key ----------------------------------------------------------------------------

  const apiKey = () => localStorage.getItem(KEY_STORE) || "";

  /** `#key=...` in the address: keep the key, then take it out of the address bar (and history). */
  function readFragment() {
    const params = new URLSearchParams(location.hash.slice(1));
    if (params.has("key")) {
      const key = (params.get("key") || "").trim();
      if (key) localStorage.setItem(KEY_STORE, key);
      params.delete("key");
      const rest = params.toString();
      history.replaceState(null, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
    }
    return params.get("task");
  }

  function askForKey(message) {
    stopStreams();
    $("app").hidden = true;
    $("signout").hidden = true;
    $("notify").hidden = true;
    $("keybox").hidden = false;
    if (message) say(message, true);
    $("key").focus();
  }

  // --- the API ----------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(problem, status) {
      super(problem.detail || problem.title || `HTTP ${status}`);
      this.status = status;
      this.code = problem.code || "";
    }
  }

  function headers(extra) {
    return { Authorization: `Bearer ${apiKey()}`, ...extra };
  }

  async function failure(res) {
    const text = await res.text();
    let doc;
    try {
      doc = JSON.parse(text);
    } catch {
      doc = { detail: `${res.status} ${res.statusText}` };
    }
    const err = new ApiError(doc, res.status);
    if (res.status === 401) askForKey(`${err.message}. Enter a valid key.`);
    return err;
  }

  async function api(method, path, body) {
    const init = { method, headers: headers({ Accept: "application/json" }) };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError({ detail: `The Distill server cannot be reached (${e.message})` }, 0);
    }
    if (!res.ok) throw await failure(res);
    return res.json();
  }

  /**
   * A text/event-stream read with fetch, reconnecting with Last-Event-ID (so nothing is
   * missed) until a terminal event, a 204, or close(). handlers: event(name, doc), up(),
   * down(), end(), fail(error).
   */
  class EventStream {
    constructor(path, handlers) {
      this.path = path;
      this.on = handlers;
      this.lastId = null;
      this.retry = 2000;
      this.closed = false;
      this.ctrl = null;
    }

    start() {
      this.loop();
      return this;
    }

    close() {
      this.closed = true;
      if (this.ctrl) this.ctrl.abort();
    }

    async loop() {
      let failures = 0;
      while (!this.closed) {
        let over = false;
        try {
          over = await this.once();
          failures = 0;
        } catch (e) {
          if (this.closed) return;
          if (e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 429) {
            this.on.fail?.(e);
            return;
          }
          failures += 1;
        }
        if (this.closed) return;
        if (over) {
          this.on.end?.();
          return;
        }
        this.on.down?.();
        await sleep(Math.min(30000, this.retry * Math.max(1, failures)));
      }
    }

    /** One connection; true when the stream is over for good. */
    async once() {
      this.ctrl = new AbortController();
      const extra = { Accept: "text/event-stream" };
      if (this.lastId !== null) extra["Last-Event-ID"] = this.lastId;
      const res = await fetch(this.path, { headers: headers(extra), signal: this.ctrl.signal, cache: "no-store" });
      if (res.status === 204) return true;
      if (!res.ok) throw await failure(res);
      this.on.up?.();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      let ev = { event: "message", data: [], id: null };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return false;
        buffer += value;
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl).replace(/\r$/, "");
          buffer = buffer.slice(nl + 1);
          if (line === "") {
            if (ev.id !== null) this.lastId = ev.id;
            if (ev.data.length && this.dispatch(ev.event, ev.data.join("\n"))) {
              this.ctrl.abort();
              return true;
            }
            ev = { event: "message", data: [], id: null };
          } else if (!line.startsWith(":")) {
            const colon = line.indexOf(":");
            const field = colon < 0 ? line : line.slice(0, colon);
            const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
            if (field === "data") ev.data.push(val);
            else if (field === "event") ev.event = val;
            else if (field === "id") ev.id = val;
            else if (field === "retry" && /^\d+$/.test(val)) this.retry = Number(val);
          }
        }
      }
    }

    /** true after the task's last event */
    dispatch(name, data) {
      let doc;
      try {
        doc = JSON.parse(data);
      } catch {
        return false;
      }
      if (name === "problem") return false; // the server ends the stream; reconnecting resumes
      this.on.event?.(name, doc);
      return Boolean(doc.terminal);
    }
  }

  // --- the task list ----------------------------------------------------------------------

  function when(ts) {
    if (!ts) return "";
    const seconds = (Date.parse(ts) - Date.now()) / 1000;
    const fmt = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
    for (const [unit, size] of [["day", 86400], ["hour", 3600], ["minute", 60]]) {
      if (Math.abs(seconds) >= size) return fmt.format(Math.round(seconds / size), unit);
    }
    return fmt.format(Math.round(seconds), "second");
  }

  /** "3 links · 2 done · 1 failed"; an upload's items are files (and maybe links): "items". */
  function countsText(c, kind) {
    const parts = [plural(c.total || 0, kind === "INPUT_KIND_FILE" ? "item" : "link")];
    if (c.succeeded) parts.push(`${c.succeeded} done`);
    if (c.running) parts.push(`${c.running} running`);
    if (c.pending) parts.push(`${c.pending} waiting`);
    if (c.failed) parts.push(`${c.failed} failed`);
    if (c.cancelled) parts.push(`${c.cancelled} cancelled`);
    return parts.join(" · ");
  }

  function badge(el, status) {
    el.dataset.status = short(status);
    el.textContent = short(status).replace("_", " ");
  }

  function taskRow(task) {
    const li = $("task-row").content.firstElementChild.cloneNode(true);
    li.dataset.id = task.id;
    fillTaskRow(li, task);
    li.querySelector("button").addEventListener("click", () => selectTask(task.id));
    return li;
  }

  function fillTaskRow(li, task) {
    li.dataset.status = short(task.status);
    badge(li.querySelector(".badge"), task.status);
    li.querySelector(".task-what").textContent = countsText(task.counts || {}, task.input_kind);
    const t = li.querySelector(".task-when");
    t.textContent = when(task.create_time);
    t.title = task.create_time || "";
    li.querySelector("progress").value = task.progress || 0;
    li.querySelector("button").setAttribute("aria-label", `Task ${task.id.slice(0, 8)}: ${short(task.status)}, ${countsText(task.counts || {}, task.input_kind)}`);
    li.setAttribute("aria-current", String(task.id === state.selected));
  }

  async function loadTasks() {
    const params = new URLSearchParams({ page_size: String(PAGE_SIZE) });
    for (const s of state.filter.split(",").filter(Boolean)) params.append("status", s);
    const token = state.tokens[state.page];
    if (token) params.set("page_token", token);
    let res;
    try {
      res = await api("GET", `/v1/tasks?${params}`);
    } catch (e) {
      if (e.status !== 401) say(`Could not list tasks: ${e.message}`, true);
      return;
    }
    state.tokens.length = state.page + 1;
    if (res.next_page_token) state.tokens.push(res.next_page_token);
    state.listed = new Set(res.tasks.map((t) => t.id));
    $("tasks").replaceChildren(...res.tasks.map(taskRow));
    $("no-tasks").hidden = res.tasks.length > 0;
    $("total").textContent = `(${res.total_size})`;
    $("newer").disabled = state.page === 0;
    $("older").disabled = !res.next_page_token;
    $("page").textContent = res.total_size > PAGE_SIZE ? `page ${state.page + 1}` : "";
  }

  /** At most one reload of the list per second, whatever the rate of events. */
  function reloadSoon() {
    if (state.reloadTimer) return;
    state.reloadTimer = setTimeout(() => {
      state.reloadTimer = null;
      loadTasks();
    }, 1000);
  }

  function watchAllTasks() {
    state.listWatch = new EventStream("/v1/events", {
      event(name, ev) {
        if (name === "ping") return;
        if (name === "task" && ev.task) {
          const li = $("tasks").querySelector(`li[data-id="${CSS.escape(ev.task.id)}"]`);
          if (li) fillTaskRow(li, ev.task);
          else if (state.page === 0) reloadSoon(); // a new task
        } else if (state.listed.has(ev.task_id)) {
          reloadSoon(); // its counts move
        }
      },
    }).start();
  }

  function setFilter(button) {
    for (const b of $("filters").querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === button));
    state.filter = button.dataset.filter;
    state.tokens = [""];
    state.page = 0;
    loadTasks();
  }

  // --- one task, live ---------------------------------------------------------------------

  function selectTask(id) {
    if (state.watch) state.watch.close();
    state.selected = id;
    state.task = null;
    state.items = new Map();
    state.itemEls = new Map();
    $("items").replaceChildren();
    $("detail").hidden = false;
    $("detail-title").textContent = `Task ${id.slice(0, 8)}`;
    state.report += 1;
    reportStatus("", "");
    $("report-button").disabled = false;
    for (const li of $("tasks").children) li.setAttribute("aria-current", String(li.dataset.id === id));
    history.replaceState(null, "", `${location.pathname}${location.search}#task=${encodeURIComponent(id)}`);
    watchTask(id);
  }

  function watchTask(id) {
    state.watchOver = false;
    state.watch = new EventStream(`/v1/tasks/${encodeURIComponent(id)}/events`, {
      event: onTaskEvent,
      up: () => ($("live").hidden = false),
      down: () => ($("live").hidden = true),
      end() {
        $("live").hidden = true;
        state.watchOver = true;
      },
      fail(e) {
        $("live").hidden = true;
        state.watchOver = true;
        if (e.status !== 401) say(`Cannot follow task ${id.slice(0, 8)}: ${e.message}`, true);
      },
    }).start();
  }

  function onTaskEvent(name, ev) {
    if (name === "snapshot") {
      renderTask(ev.task);
      const items = [...(ev.task.items || [])].sort((a, b) => (a.position || 0) - (b.position || 0));
      for (const item of items) {
        state.items.set(item.id, item);
        renderItem(item);
      }
    } else if (name === "task" && ev.task) {
      renderTask(ev.task);
    } else if (name === "item" && ev.item) {
      mergeItem(ev.item);
    }
  }

  function renderTask(task) {
    state.task = { ...state.task, ...task, items: undefined };
    const t = state.task;
    badge($("detail-status"), t.status);
    $("detail-progress").value = t.progress || 0;
    $("detail-counts").textContent = `${countsText(t.counts || {}, t.input_kind)} · ${t.progress || 0}% finished`;
    $("cancel").hidden = TERMINAL.has(t.status);
    $("retry-all").hidden = !((t.counts || {}).failed > 0);
    const li = $("tasks").querySelector(`li[data-id="${CSS.escape(t.id)}"]`);
    if (li) fillTaskRow(li, t);
  }

  /** An item event carries the phase that changed, not the others, nor the results. */
  function mergeItem(item) {
    const cur = state.items.get(item.id);
    if (!cur) {
      state.items.set(item.id, item);
      renderItem(item);
      return;
    }
    cur.phases = cur.phases || [];
    for (const p of item.phases || []) {
      const i = cur.phases.findIndex((q) => q.stage === p.stage);
      if (i >= 0) cur.phases[i] = p;
      else cur.phases.push(p);
    }
    cur.status = item.status;
    cur.current_stage = item.current_stage;
    if (item.title) cur.title = item.title;
    cur.error = item.status === "ITEM_STATUS_FAILED" ? item.error : undefined;
    if (item.export && item.export.url) cur.export = item.export;
    renderItem(cur);
    if (item.status === "ITEM_STATUS_SUCCEEDED" && !(cur.export && cur.export.url)) refreshItem(item.id);
  }

  /** The whole item (title, export link) once it is done. */
  async function refreshItem(id) {
    if (state.refreshing.has(id)) return;
    state.refreshing.add(id);
    try {
      const item = await api("GET", `/v1/items/${encodeURIComponent(id)}`);
      if (state.items.has(id)) {
        state.items.set(id, item);
        renderItem(item);
      }
    } catch (e) {
      if (e.status !== 401) say(`Could not load an item: ${e.message}`, true);
    } finally {
      state.refreshing.delete(id);
    }
  }

  function safeHref(url) {
    try {
      const u = new URL(url);
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
    } catch {
      return null;
    }
  }

  function itemElement(item) {
    let li = state.itemEls.get(item.id);
    if (li) return li;
    li = $("item-row").content.firstElementChild.cloneNode(true);
    li.dataset.id = item.id;
    li.dataset.position = String(item.position || 0);
    li.querySelector(".retry").addEventListener("click", () => retry([item.id]));
    const list = $("items");
    const after = [...list.children].find((c) => Number(c.dataset.position) > (item.position || 0));
    list.insertBefore(li, after || null);
    state.itemEls.set(item.id, li);
    return li;
  }

  function renderItem(item) {
    const li = itemElement(item);
    const status = short(item.status);
    li.dataset.status = status;
    badge(li.querySelector(".badge"), item.status);
    const a = li.querySelector(".item-title");
    a.textContent = item.title || item.input;
    const href = safeHref(item.input);
    if (href) a.href = href;
    else a.removeAttribute("href");

    const stages = state.task && state.task.stages && state.task.stages.length ? state.task.stages : STAGES;
    const phases = stages.map((stage) => {
      const p = (item.phases || []).find((q) => q.stage === stage);
      let ps = p ? short(p.status) : "pending";
      if (!p && status === "cancelled") ps = "cancelled";
      if (!p && status === "failed") ps = "skipped"; // an earlier stage failed
      const name = STAGE_NAME[stage] || short(stage);
      const el = document.createElement("li");
      el.className = "phase";
      el.dataset.stage = name;
      el.dataset.status = ps;
      const n = document.createElement("span");
      n.className = "phase-name";
      n.textContent = name;
      const s = document.createElement("span");
      s.className = "phase-state";
      let text = PHASE_TEXT[ps] || ps;
      if (ps === "running" && p.progress) text += ` ${p.progress}%`;
      if (ps === "retrying" && p.attempts) text += ` (attempt ${p.attempts})`;
      s.textContent = text;
      const bar = document.createElement("progress");
      bar.max = 100;
      bar.value = ps === "succeeded" ? 100 : (p && p.progress) || 0;
      bar.setAttribute("aria-hidden", "true");
      el.setAttribute("aria-label", `${name}: ${text}`);
      el.append(n, s, bar);
      return el;
    });
    li.querySelector(".phases").replaceChildren(...phases);

    const box = li.querySelector(".item-error");
    const err = item.error;
    box.hidden = status !== "failed";
    if (status === "failed") {
      const where = err && err.stage ? ` (${STAGE_NAME[err.stage] || short(err.stage)})` : "";
      li.querySelector(".error-text").textContent = err
        ? `${err.code}${where}: ${err.message}`
        : "failed (no reason recorded)";
      li.querySelector(".retry").setAttribute("aria-label", `Retry ${item.title || item.input}`);
    }
    renderExport(li.querySelector(".item-export"), item.export);
  }

  function renderExport(p, exp) {
    if (!exp || !exp.url) {
      p.hidden = true;
      p.replaceChildren();
      return;
    }
    p.hidden = false;
    const href = safeHref(exp.url);
    if (href) {
      const a = document.createElement("a");
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      a.className = "export-link";
      a.textContent = exp.destination === "DESTINATION_NOTION" ? "Open in Notion" : "Open the export";
      p.replaceChildren(a);
      return;
    }
    // A Markdown file on the server's disk: browsers will not open file:// links from a web page.
    const path = exp.external_id || decodeURIComponent(exp.url.replace(/^file:\/\//, ""));
    const code = document.createElement("code");
    code.className = "export-path";
    code.textContent = path;
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "quiet";
    copy.textContent = "Copy path";
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(path);
        say("Path copied.");
      } catch {
        say("Copying is not allowed here; select the path instead.", true);
      }
    });
    p.replaceChildren("Markdown: ", code, copy);
  }

  async function retry(itemIds) {
    const id = state.selected;
    try {
      const res = await api("POST", `/v1/tasks/${encodeURIComponent(id)}:retry`, itemIds ? { item_ids: itemIds } : {});
      say(res.retried_count ? `Retrying ${plural(res.retried_count, "item")}.` : "Nothing to retry.");
      if (res.task) renderTask(res.task);
      if (state.watchOver && res.retried_count) {
        state.watch.close();
        watchTask(id); // the task was over; follow it again
      }
    } catch (e) {
      if (e.status !== 401) say(`Retry failed: ${e.message}`, true);
    }
  }

  async function cancel() {
    const id = state.selected;
    try {
      renderTask(await api("POST", `/v1/tasks/${encodeURIComponent(id)}:cancel`, {}));
      say("Task cancelled.");
    } catch (e) {
      if (e.status !== 401) say(`Cancel failed: ${e.message}`, true);
    }
  }

  // --- submitting -------------------------------------------------------------------------

  async function submit(e) {
    e.preventDefault();
    const urls = $("urls").value.split(/\s+/).map((s) => s.trim()).filter(Boolean);
    if (state.files.length) {
      await uploadFiles(urls);
      return;
    }
    if (!urls.length) {
      say("Paste at least one link, or choose a file.", true);
      $("urls").focus();
      return;
    }
    const button = $("submit-button");
    button.disabled = true;
    try {
      const task = await api("POST", "/v1/tasks", { urls, priority: $("priority").value });
      $("urls").value = "";
      say(`Submitted ${plural(urls.length, "link")}.`);
      await showNewTask(task);
    } catch (err) {
      if (err.status !== 401) {
        say(err.message, true);
        $("urls").focus();
      }
    } finally {
      button.disabled = false;
    }
  }

  async function showNewTask(task) {
    state.tokens = [""];
    state.page = 0;
    await loadTasks();
    selectTask(task.id);
  }

  // --- uploading files --------------------------------------------------------------------

  function addFiles(list) {
    for (const f of list) {
      const known = state.files.some((g) => g.name === f.name && g.size === f.size && g.lastModified === f.lastModified);
      if (!known) state.files.push(f);
    }
    renderChosen();
  }

  /** The file input shows every file of the list (dropped ones too), not only its last choice. */
  function syncInput() {
    try {
      const dt = new DataTransfer();
      for (const f of state.files) dt.items.add(f);
      $("files").files = dt.files;
    } catch {
      $("files").value = ""; // a browser without a DataTransfer constructor: the list alone says it
    }
  }

  function renderChosen() {
    const rows = state.files.map((f, i) => {
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.className = "file-name";
      name.textContent = f.name;
      const size = document.createElement("span");
      size.className = "muted";
      size.textContent = bytes(f.size);
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "quiet";
      remove.textContent = "Remove";
      remove.setAttribute("aria-label", `Remove ${f.name}`);
      remove.disabled = Boolean(state.upload);
      remove.addEventListener("click", () => {
        state.files.splice(i, 1);
        renderChosen();
        $("files").focus();
      });
      li.append(name, size, remove);
      return li;
    });
    $("chosen").replaceChildren(...rows);
    $("chosen").hidden = rows.length === 0;
    syncInput();
    $("clear-files").hidden = rows.length === 0 || Boolean(state.upload);
  }

  function uploadStatus(text, error = false) {
    const p = $("upload-status");
    p.textContent = text;
    p.classList.toggle("error", error);
  }

  /** The files (and any links) as one task, with upload progress; resolves when it is over. */
  function uploadFiles(urls) {
    const files = [...state.files];
    const form = new FormData();
    form.append("priority", $("priority").value); // options before the files: the server reads in order
    for (const f of files) form.append("file", f, f.name);
    for (const u of urls) form.append("url", u);
    const total = files.reduce((n, f) => n + f.size, 0);
    const what = plural(files.length, "file") + (urls.length ? ` and ${plural(urls.length, "link")}` : "");
    const bar = $("upload-progress");
    const xhr = new XMLHttpRequest();
    let told = -1; // the last 10 % step said in words (a screen reader hears each change)

    const busy = (on) => {
      state.upload = on ? xhr : null;
      $("submit-button").disabled = on;
      $("files").disabled = on;
      $("stop-upload").hidden = !on;
      bar.hidden = !on;
      renderChosen();
    };

    return new Promise((resolve) => {
      xhr.open("POST", "/v1/uploads");
      xhr.setRequestHeader("Authorization", `Bearer ${apiKey()}`);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", (ev) => {
        const sent = ev.lengthComputable ? ev.loaded : 0;
        const all = ev.lengthComputable ? ev.total : total;
        const pct = all ? Math.min(100, Math.floor((sent / all) * 100)) : 0;
        bar.value = pct;
        if (Math.floor(pct / 10) !== told) {
          told = Math.floor(pct / 10);
          uploadStatus(`Uploading ${what}: ${bytes(sent)} of ${bytes(all)} (${pct} %)`);
        }
      });
      xhr.upload.addEventListener("load", () => {
        bar.value = 100;
        uploadStatus(`Uploaded ${bytes(total)}; the server is storing ${plural(files.length, "file")}…`);
      });
      xhr.addEventListener("load", async () => {
        busy(false);
        let doc = {};
        try {
          doc = JSON.parse(xhr.responseText);
        } catch {
          doc = { detail: `${xhr.status} ${xhr.statusText}` };
        }
        if (xhr.status === 200) {
          state.files = [];
          renderChosen();
          $("urls").value = "";
          uploadStatus(`Uploaded ${what}.`);
          await showNewTask(doc);
        } else {
          const err = new ApiError(doc, xhr.status);
          if (xhr.status === 401) askForKey(`${err.message}. Enter a valid key.`);
          else uploadStatus(`Not uploaded: ${err.message}`, true);
        }
        resolve();
      });
      xhr.addEventListener("error", () => {
        busy(false);
        uploadStatus("The upload failed: the Distill server cannot be reached.", true);
        resolve();
      });
      xhr.addEventListener("abort", () => {
        busy(false);
        uploadStatus("Upload stopped; nothing of it was kept.");
        resolve();
      });
      busy(true);
      uploadStatus(`Uploading ${what}…`);
      xhr.send(form);
    });
  }

  function initDropZone() {
    const zone = $("dropzone");
    const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes("Files");
    zone.addEventListener("dragover", (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      zone.classList.remove("over");
      if (state.upload) return;
      addFiles(e.dataTransfer.files);
      uploadStatus(`${plural(state.files.length, "file")} ready to upload.`);
    });
    // A file dropped beside the zone would replace the dashboard with the file.
    for (const type of ["dragover", "drop"]) {
      window.addEventListener(type, (e) => {
        if (hasFiles(e) && !zone.contains(e.target)) e.preventDefault();
      });
    }
  }

  // --- reports ----------------------------------------------------------------------------

  function reportStatus(text, stateName, error = false) {
    const p = $("report-status");
    p.textContent = text;
    p.dataset.state = stateName;
    p.classList.toggle("error", error);
  }

  /** Ask for a report of the selected task, follow it until it is made, then save it. */
  async function downloadReport() {
    const taskId = state.selected;
    const mine = ++state.report;
    const format = $("report-format").value;
    const label = REPORT_FORMAT[format] || format;
    const current = () => mine === state.report;
    const button = $("report-button");
    button.disabled = true;
    try {
      reportStatus(`Asking for a ${label} report…`, "asking");
      let report = await api("POST", `/v1/tasks/${encodeURIComponent(taskId)}/reports`, { format });
      let wait = 400;
      while (report.status === "REPORT_STATUS_QUEUED" || report.status === "REPORT_STATUS_RUNNING") {
        if (!current()) return;
        const queued = report.status === "REPORT_STATUS_QUEUED";
        reportStatus(queued ? `${label} report queued…` : `Making the ${label} report…`, queued ? "queued" : "running");
        await sleep(wait);
        wait = Math.min(3000, wait * 1.5);
        if (!current()) return;
        report = await api("GET", `/v1/reports/${encodeURIComponent(report.id)}`);
      }
      if (!current()) return;
      if (report.status !== "REPORT_STATUS_SUCCEEDED") {
        const err = report.error || {};
        reportStatus(`The report could not be made: ${err.code || report.status}: ${err.message || ""}`, "failed", true);
        return;
      }
      reportStatus(`Downloading ${report.filename} (${bytes(report.size_bytes)})…`, "downloading");
      let res;
      try {
        res = await fetch(`/v1/reports/${encodeURIComponent(report.id)}/content`, { headers: headers() });
      } catch (e) {
        throw new ApiError({ detail: `The Distill server cannot be reached (${e.message})` }, 0);
      }
      if (!res.ok) throw await failure(res);
      const blob = await res.blob();
      if (!current()) return;
      save(blob, report.filename);
      reportStatus(`Downloaded ${report.filename} (${bytes(blob.size)}).`, "downloaded");
    } catch (e) {
      if (e.status !== 401 && current()) reportStatus(`Report: ${e.message}`, "failed", true);
    } finally {
      if (current()) button.disabled = false;
    }
  }

  /** Save bytes under a name, as a download. */
  function save(blob, name) {
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  // --- notifications (Web Push) -----------------------------------------------------------

  const pushSupported = () => "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

  function b64urlBytes(text) {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  }

  function showNotifyState(on) {
    const b = $("notify");
    b.setAttribute("aria-pressed", String(on));
    b.textContent = on ? "Notifications on" : "Allow notifications";
  }

  async function enableNotifications() {
    const permission = await Notification.requestPermission();
    if (permission !== "granted") {
      say("Notifications are blocked for this site. Allow them in the browser's site settings, then try again.", true);
      return;
    }
    const { public_key: publicKey } = await api("GET", "/v1/vapidPublicKey");
    const reg = await navigator.serviceWorker.register("/sw.js");
    await navigator.serviceWorker.ready;
    let sub = await reg.pushManager.getSubscription();
    if (sub) await sub.unsubscribe(); // it may be for another server key
    say("Subscribing with this browser's push service…");
    try {
      sub = await Promise.race([
        reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64urlBytes(publicKey) }),
        sleep(PUSH_TIMEOUT_MS).then(() => {
          throw new Error(`no answer within ${PUSH_TIMEOUT_MS / 1000} s (is this machine offline?)`);
        }),
      ]);
    } catch (e) {
      say(`This browser could not subscribe to its push service: ${e.message}`, true);
      return;
    }
    const json = sub.toJSON();
    const saved = await api("POST", "/v1/pushSubscriptions", {
      endpoint: json.endpoint,
      p256dh: json.keys.p256dh,
      auth: json.keys.auth,
      filter: "EVENT_FILTER_DEFAULT",
    });
    localStorage.setItem(PUSH_STORE, saved.id);
    showNotifyState(true);
    say("Notifications are on: you will hear when links are done or fail.");
  }

  async function disableNotifications() {
    const id = localStorage.getItem(PUSH_STORE);
    if (id) {
      try {
        await api("DELETE", `/v1/pushSubscriptions/${encodeURIComponent(id)}`);
      } catch (e) {
        if (e.status !== 404) throw e;
      }
    }
    localStorage.removeItem(PUSH_STORE);
    const reg = await navigator.serviceWorker.getRegistration();
    const sub = reg && (await reg.pushManager.getSubscription());
    if (sub) await sub.unsubscribe();
    showNotifyState(false);
    say("Notifications are off.");
  }

  async function toggleNotifications() {
    const b = $("notify");
    b.disabled = true;
    try {
      if (b.getAttribute("aria-pressed") === "true") await disableNotifications();
      else await enableNotifications();
    } catch (e) {
      if (e.status !== 401) say(`Notifications: ${e.message}`, true);
    } finally {
      b.disabled = false;
    }
  }

  async function initNotifications() {
    const b = $("notify");
    if (!pushSupported()) {
      b.hidden = true;
      return;
    }
    b.hidden = false;
    let on = false;
    if (localStorage.getItem(PUSH_STORE) && Notification.permission === "granted") {
      const reg = await navigator.serviceWorker.getRegistration();
      on = Boolean(reg && (await reg.pushManager.getSubscription()));
    }
    showNotifyState(on);
  }

  // --- start ------------------------------------------------------------------------------

  function stopStreams() {
    if (state.watch) state.watch.close();
    if (state.listWatch) state.listWatch.close();
    state.watch = state.listWatch = null;
  }

  function start(taskId) {
    $("keybox").hidden = true;
    $("app").hidden = false;
    $("signout").hidden = false;
    stopStreams();
    loadTasks();
    watchAllTasks();
    initNotifications().catch(() => {});
    if (taskId) selectTask(taskId);
  }

  function init() {
    const taskId = readFragment();
    if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
    $("keyform").addEventListener("submit", (e) => {
      e.preventDefault();
      const key = $("key").value.trim();
      if (!key) return;
      localStorage.setItem(KEY_STORE, key);
      $("key").value = "";
      say("Key saved in this browser.");
      start(null);
    });
    $("signout").addEventListener("click", () => {
      localStorage.removeItem(KEY_STORE);
      say("The key is forgotten in this browser.");
      askForKey();
    });
    $("submit").addEventListener("submit", submit);
    $("files").addEventListener("change", () => addFiles($("files").files));
    $("clear-files").addEventListener("click", () => {
      state.files = [];
      renderChosen();
    });
    $("stop-upload").addEventListener("click", () => state.upload && state.upload.abort());
    $("report-button").addEventListener("click", downloadReport);
    initDropZone();
    $("filters").addEventListener("click", (e) => {
      const b = e.target.closest("button");
      if (b) setFilter(b);
    });
    $("older").addEventListener("click", () => {
      state.page += 1;
      loadTasks();
    });
    $("newer").addEventListener("click", () => {
      state.page = Math.max(0, state.page - 1);
      loadTasks();
    });
    $("cancel").addEventListener("click", cancel);
    $("retry-all").addEventListener("click", () => retry(null));
    $("notify").addEventListener("click", toggleNotifications);
    window.addEventListener("hashchange", () => {
      const id = readFragment();
      if (!apiKey()) askForKey();
      else if ($("app").hidden) start(id);
      else if (id && id !== state.selected) selectTask(id);
    });
    if (apiKey()) start(taskId);
    else askForKey();
  }

  init();
})();
