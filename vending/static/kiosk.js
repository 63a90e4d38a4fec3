// Kiosk page: badge (keyboard wedge, no click needed) or ID + PIN, item grid, dispense progress, auto sign-out.
// Keyboard: every control is reachable by Tab and works with Enter/Space; each new screen moves focus to its
// heading; a badge reader typing while focus is on a button still lands in the badge field.
(function () {
  "use strict";
  const root = document.getElementById("kiosk");
  const TEXT = (() => { try { return JSON.parse(document.getElementById("kiosk-text").textContent); } catch (e) { return {}; } })();
  const t = (s) => TEXT[s] || s;  // the page's language (see web/i18n.py); English when not translated
  const api = root.dataset.api;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const idleSeconds = Number(new URLSearchParams(location.search).get("idle") || root.dataset.idle);
  const $ = (id) => document.getElementById(id);
  let state = null, chosen = null, qty = 1, idleTimer = null, pollTimer = null;
  // Language: the page is drawn in the kiosk's language, or in the signed-in worker's own (web/i18n.py). A worker
  // whose language differs from the page's reloads it after sign-in (the server draws it in theirs and the page
  // picks the sign-in up again from /state); a page drawn for a worker reloads at sign-out, in the kiosk's.
  const pageLang = document.documentElement.lang;
  const NOTE = "vendtrack-kiosk-note";  // a sign-out message carried over the reload (its English text)

  function picture(item) {  // the item's own picture, or its initial on a tile-coloured square
    if (item.picture) return '<span class="k-pic"><img src="' + escape(item.picture) + '" alt=""></span>';
    return '<span class="k-pic"><span class="k-initial" aria-hidden="true">' + escape(item.name.trim().charAt(0).toUpperCase()) + "</span></span>";
  }

  async function call(path, body) {
    const options = body === undefined ? {} : {
      method: "POST", headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}, body: JSON.stringify(body)
    };
    const response = await fetch(api + path, options);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      if (data.error && data.error.code === "kiosk_not_paired") location.reload();  // un-paired: show why
      const error = new Error((data.error && data.error.message) || ("error " + response.status));
      error.code = data.error && data.error.code;
      error.field = data.error && data.error.field;
      throw error;
    }
    return data;
  }

  function show(name, focus) {
    for (const s of root.querySelectorAll(".k-screen")) s.hidden = s.id !== "screen-" + name;
    root.dataset.screen = name;
    if (name === "signin") { $("badge").value = ""; }
    const target = focus || $("screen-" + name).querySelector("h1");
    if (target) target.focus();
  }
  function message(text, ok) {
    const m = $("message");
    m.textContent = text || ""; m.hidden = !text; m.classList.toggle("ok", !!ok);
  }
  const escape = (t) => String(t).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));

  function signedIn(data) {
    if (data.language && data.language !== pageLang && !root.dataset.signedIn) { location.reload(); return; }
    state = data;
    $("who").textContent = data.worker.name;
    $("logout").hidden = false;
    $("restock-tab").hidden = !data.worker.restocker;
    renderCharges(); renderGrid(); renderTools(); tab("grid"); show("items"); touch();
  }
  function signOut(text) {  // text: an English kiosk string (translated here) or a server message
    state = null; chosen = null;
    $("who").textContent = ""; $("logout").hidden = true;
    clearTimeout(idleTimer);
    const done = call("/logout", {}).catch(() => {});
    if (root.dataset.workerLang) {  // drawn in the worker's language: back to the kiosk's
      root.dataset.screen = "leaving";
      try { sessionStorage.setItem(NOTE, text || ""); } catch (e) { /* no storage: no message */ }
      done.then(() => location.reload());
      return;
    }
    message(t(text || "")); show("signin");
  }
  function touch() {
    clearTimeout(idleTimer);
    if (state) idleTimer = setTimeout(() => signOut("Signed out after inactivity."), idleSeconds * 1000);
  }

  function renderCharges() {
    const box = $("charges"); box.innerHTML = "";
    for (const [kind, mode] of Object.entries(state.charge_modes)) {
      if (mode === "off") continue;
      const label = state.charge_labels[kind];
      const list = state.charge_lists[kind];
      const attrs = 'data-charge="' + kind + '" data-label="' + escape(label) + '" aria-required="' + (mode !== "optional") + '"';
      const field = list ? "<select " + attrs + '><option value=""></option>' +
        list.map(([code, name]) => '<option value="' + escape(code) + '">' + escape(code + " " + name) + "</option>").join("") +
        "</select>" : "<input " + attrs + ' autocomplete="off" maxlength="64">';
      const tag = mode === "optional" ? '<span class="k-opt">' + t("optional") + "</span>" : '<span class="k-req">' + t("required") + "</span>";
      box.insertAdjacentHTML("beforeend", "<label>" + escape(label.charAt(0).toUpperCase() + label.slice(1)) + " " + tag + " " + field + "</label>");
    }
  }
  function missingCharge() {  // the first required charge field left empty (the server refuses it too)
    for (const el of root.querySelectorAll('[data-charge][aria-required="true"]')) {
      el.setAttribute("aria-invalid", el.value.trim() ? "false" : "true");
    }
    return root.querySelector('[data-charge][aria-invalid="true"]');
  }
  function renderGrid() {
    $("grid").innerHTML = state.items.map((i) => {
      const off = i.stock < 1 || i.state !== "ok";
      const status = i.state !== "ok" ? t("out of service") : (i.stock < 1 ? t("empty") : t("{n} left").replace("{n}", i.stock));
      return '<li><button class="k-tile" data-slot="' + escape(i.slot) + '"' + (off ? " disabled" : "") + ">" +
        picture(i) + "<strong>" + escape(i.name) + '</strong><span class="k-slot">' + escape(i.slot) + "</span>" +
        '<span class="k-stock' + (off ? " out" : "") + '">' + escape(status) + "</span></button></li>";
    }).join("");
  }
  function renderTools() {
    const out = state.tools_out.map((tool) => '<div class="k-row"><span>' + escape(tool.serial + " " + tool.name) +
      (tool.due_at ? " · " + t("due") + " " + escape(tool.due_at) : "") + "</span>" +
      "<label>" + t("Condition") + ' <select data-condition="' + escape(tool.serial) + '"><option value="ok">' + t("Good") + "</option>" +
      '<option value="damaged">' + t("Damaged") + '</option><option value="lost">' + t("Lost") + "</option></select></label>" +
      '<button type="button" class="k-btn" data-return="' + escape(tool.serial) + '">' + t("Return") + "</button></div>").join("");
    const avail = state.tools_available.map((tool) => '<div class="k-row"><span>' + escape(tool.serial + " " + tool.name) +
      '</span><button type="button" class="k-btn" data-checkout="' + escape(tool.serial) + '">' + t("Check out") + "</button></div>").join("");
    const off = state.tools_unavailable.map((tool) => '<div class="k-row k-off" data-unavailable="' + escape(tool.serial) + '"><span>' +
      escape(tool.serial + " " + tool.name) + '</span><span class="k-why">' + t("Not available:") + " " + escape(tool.reason) + "</span></div>").join("");
    $("tools").innerHTML = '<div class="k-tools-cols"><div><h2>' + t("Yours") + "</h2>" + (out || "<p>" + t("none") + "</p>") +
      "</div><div><h2>" + t("Available") + "</h2>" + (avail || "<p>" + t("none") + "</p>") + "</div>" +
      (off ? "<div><h2>" + t("Not available") + "</h2>" + off + "</div>" : "") + "</div>";
  }
  const HEADINGS = {grid: "Choose an item", tools: "Tools", ask: "Ask for an item", restock: "Restock"};
  function tab(name, focus) {
    for (const id of ["grid", "tools", "ask", "restock"]) $(id).hidden = id !== name;
    $("items-heading").textContent = t(HEADINGS[name]);  // the heading names the open tab
    $("charges").hidden = name !== "grid";  // charge codes go with a take; a tool or a request does not ask for them
    for (const b of root.querySelectorAll(".k-tab")) {
      const on = b.dataset.tab === name;
      b.setAttribute("aria-selected", String(on)); b.tabIndex = on ? 0 : -1;
      if (on && focus) b.focus();
    }
    if (name === "restock") loadRestock();
  }
  async function loadRestock() {
    try {
      const data = await call("/restock");
      $("restock").innerHTML = data.pick_list.map((p) => '<div class="k-row"><strong>' + escape(p.slot) + "</strong> " +
        escape(p.name) + " · " + p.on_hand + "/" + p.max + (p.expired ? " (+" + p.expired + " " + t("expired") + ")" : "") +
        " · " + t("pick") + " " + p.to_pick +
        " <label>" + t("Scan") + ' <input type="text" autocomplete="off" data-scan="' + escape(p.slot) + '" style="max-width:12em"></label>' +
        " <label>" + t("Counted") + ' <input type="number" min="0" data-count="' + escape(p.slot) + '" style="max-width:6em"></label>' +
        " <label>" + t("Added") + ' <input type="number" min="0" value="' + p.to_pick + '" data-added="' + escape(p.slot) + '" style="max-width:6em"></label>' +
        ' <button type="button" class="k-btn" data-restock="' + escape(p.slot) + '" aria-label="' + escape(t("Save slot") + " " + p.slot) + '">' +
        t("Save") + "</button></div>").join("") || "<p>" + t("Nothing to pick.") + "</p>";
    } catch (e) { message(e.message); }
  }

  async function refresh() { try { signedIn(await call("/state")); } catch (e) { signOut(e.message); } }

  async function submitBadge(raw) {
    if (!raw.trim()) return;
    try { message(""); signedIn(await call("/badge", {badge: raw})); }
    catch (e) { message(e.message); show("signin"); }
  }

  function chargeCodes() {
    const codes = {};
    for (const el of root.querySelectorAll("[data-charge]")) if (el.value.trim()) codes[el.dataset.charge] = el.value.trim();
    return codes;
  }
  const PHASES = {authorised: t("Starting…"), opening: t("Opening the door…"), vending: t("Vending…"),
    take: t("Take your item and close the door"), weighing: t("Weighing…"), commanded: t("Working…"), sensed: t("Recording…")};

  async function take() {
    $("progress-text").textContent = t("Checking…"); show("progress");
    try {
      const key = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
      let d = (await call("/dispense", {slot: chosen.slot, quantity: qty, charge_codes: chargeCodes(), request_key: key})).dispense;
      if (d.status === "refused") { message(d.detail); show("items"); return; }
      while (!["completed", "failed", "refused"].includes(d.status)) {
        $("progress-text").textContent = PHASES[d.phase] || PHASES[d.status] || t("Working…");
        root.dataset.phase = d.phase;
        touch();
        await news(d.id, live ? 1000 : 150);  // pushed at once on the event stream; polled without one
        d = (await call("/dispense/" + d.id)).dispense;
      }
      result(d);
    } catch (e) {
      message(e.message);
      if (e.code === "no_worker") signOut(e.message);
      else { show("items"); const field = e.field && root.querySelector('[data-charge="' + e.field + '"]'); if (field) { field.setAttribute("aria-invalid", "true"); field.focus(); } }
    }
  }
  function result(d) {
    const ok = d.status === "completed";
    $("result-text").textContent = ok ? (d.taken >= 0 ? t("Done:") + " " + d.taken + " × " + d.name : t("Returned:") + " " + (-d.taken) + " × " + d.name)
      : t("Not charged");
    $("result-detail").textContent = ok ? t("Recorded. Thank you.") : d.detail;
    root.dataset.result = d.status;
    show("result");
  }

  // A keyboard-wedge reader types characters then Enter wherever focus is: on the sign-in screen a printable
  // character typed while focus is not in a text field goes to the badge field. Tab, Enter, Space and arrows
  // keep their meaning, so a keyboard user can reach and press "Use ID + PIN" and the keypad.
  const TYPING = ["INPUT", "SELECT", "TEXTAREA"];
  document.addEventListener("keydown", (ev) => {
    touch();
    const printable = ev.key.length === 1 && ev.key !== " " && !ev.ctrlKey && !ev.altKey && !ev.metaKey;
    if (root.dataset.screen === "signin" && printable && !TYPING.includes(document.activeElement.tagName)) $("badge").focus();
  });
  document.addEventListener("pointerdown", touch);
  $("badge").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") { ev.preventDefault(); const raw = $("badge").value; $("badge").value = ""; submitBadge(raw); }
  });
  $("show-pin").addEventListener("click", () => {
    $("pin-form").hidden = false; $("show-pin").setAttribute("aria-expanded", "true"); $("worker-code").focus();
  });
  $("worker-code").addEventListener("keydown", (ev) => {  // Enter in the ID field goes on to the PIN
    if (ev.key === "Enter") { ev.preventDefault(); $("pin").focus(); }
  });
  $("pin-form").addEventListener("click", (ev) => {
    const key = ev.target.dataset && ev.target.dataset.key; if (!key || key === "OK") return;
    if (key === "C") { $("pin").value = ""; return; }
    if ($("pin").value.length < 12) $("pin").value += key;
  });
  $("pin-form").addEventListener("submit", async (ev) => {  // OK on the keypad, or Enter in the PIN field
    ev.preventDefault();
    try { message(""); signedIn(await call("/pin", {worker_code: $("worker-code").value, pin: $("pin").value})); }
    catch (e) { message(e.message); $("pin").focus(); } finally { $("pin").value = ""; }
  });
  $("logout").addEventListener("click", () => signOut("Signed out."));
  $("charges").addEventListener("input", (ev) => { if (ev.target.value.trim()) ev.target.setAttribute("aria-invalid", "false"); touch(); });
  root.querySelector(".k-tabs").addEventListener("click", (ev) => { if (ev.target.dataset.tab) tab(ev.target.dataset.tab); });
  root.querySelector(".k-tabs").addEventListener("keydown", (ev) => {  // arrow keys move between tabs
    const tabs = [...root.querySelectorAll(".k-tab")].filter((b) => !b.hidden);
    const at = tabs.indexOf(document.activeElement); if (at < 0) return;
    const step = {ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1}[ev.key];
    if (step) { ev.preventDefault(); tab(tabs[(at + step + tabs.length) % tabs.length].dataset.tab, true); }
    else if (ev.key === "Home" || ev.key === "End") { ev.preventDefault(); tab(tabs[ev.key === "Home" ? 0 : tabs.length - 1].dataset.tab, true); }
  });
  $("grid").addEventListener("click", (ev) => {
    const tile = ev.target.closest("[data-slot]"); if (!tile || tile.disabled) return;
    const missing = missingCharge();
    if (missing) {
      message(t("Enter the {label} first: it is required on this machine.").replace("{label}", missing.dataset.label));
      missing.focus(); return;
    }
    chosen = state.items.find((i) => i.slot === tile.dataset.slot); qty = 1;
    $("qty").textContent = "1"; $("confirm-name").textContent = chosen.name + " (" + chosen.slot + ")";
    message(""); show("confirm");
  });
  let lastTile = null;
  $("grid").addEventListener("focusin", (ev) => { lastTile = ev.target.closest("[data-slot]") || lastTile; });
  $("qty-minus").addEventListener("click", () => { qty = Math.max(1, qty - 1); $("qty").textContent = qty; });
  $("qty-plus").addEventListener("click", () => { qty = Math.min(chosen.stock, qty + 1); $("qty").textContent = qty; });
  $("take").addEventListener("click", take);
  $("cancel").addEventListener("click", () => show("items", lastTile && root.contains(lastTile) ? lastTile : null));
  $("result-ok").addEventListener("click", refresh);
  $("tools").addEventListener("click", async (ev) => {
    const t = ev.target.dataset; if (!t) return;
    try {
      if (t.checkout) { message((await call("/tools/checkout", {serial: t.checkout})).message, true); }
      if (t.return) {
        const cond = root.querySelector('[data-condition="' + t.return + '"]').value;
        const r = await call("/tools/return", {serial: t.return, condition: cond});
        message(r.message, true); root.dataset.toolReport = r.report ? "yes" : "no";
      }
      if (t.checkout || t.return) { state = await call("/state"); renderTools(); }
    } catch (e) { message(e.message); }
  });
  $("ask").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try { await call("/request-item", {description: $("ask-text").value}); message(t("Request sent. Thank you."), true); $("ask-text").value = ""; }
    catch (e) { message(e.message); }
  });
  $("restock").addEventListener("keydown", (ev) => {  // a scanner types the label then Enter: save that slot
    const slot = ev.target.dataset && ev.target.dataset.scan;
    if (slot && ev.key === "Enter") { ev.preventDefault(); root.querySelector('[data-restock="' + slot + '"]').click(); }
  });
  $("restock").addEventListener("click", async (ev) => {
    const slot = ev.target.dataset && ev.target.dataset.restock; if (!slot) return;
    const counted = root.querySelector('[data-count="' + slot + '"]').value;
    const added = root.querySelector('[data-added="' + slot + '"]').value;
    const scan = root.querySelector('[data-scan="' + slot + '"]').value.trim();
    try {  // with a scan, the label's count (else the pick quantity) is what was added
      const r = await call("/restock/" + encodeURIComponent(slot), scan ? {counted: counted, scan: scan} : {counted: counted, added: added});
      message(r.flagged ? t("Slot {slot}: counted {counted}, expected {expected}: flagged for a manager to review")
        .replace("{slot}", slot).replace("{counted}", r.counted).replace("{expected}", r.expected)
        : t("Slot {slot} saved").replace("{slot}", slot), !r.flagged);
      loadRestock();
    } catch (e) { message(e.message); }
  });

  // Transport: the server pushes badge reads and dispense progress on one event stream (/events); the browser
  // reconnects it by itself. Without EventSource, or while the stream is down, the page polls as before.
  let live = false, waiter = null;
  function news(id, ms) {  // resolves on a pushed event about dispense `id`, or after `ms`
    return new Promise((resolve) => {
      const timer = setTimeout(() => { waiter = null; resolve(); }, ms);
      waiter = (eventId) => { if (eventId === id) { clearTimeout(timer); waiter = null; resolve(); } };
    });
  }
  function listen() {
    if (!window.EventSource) return false;
    const stream = new EventSource(api + "/events");
    stream.addEventListener("open", () => { live = true; root.dataset.stream = "open"; });
    stream.addEventListener("error", () => { live = false; root.dataset.stream = "down"; });
    stream.addEventListener("badge", (ev) => {
      const data = JSON.parse(ev.data);
      if (data.badge && root.dataset.screen === "signin") submitBadge(data.badge);
    });
    stream.addEventListener("dispense", (ev) => { const data = JSON.parse(ev.data); if (waiter) waiter(data.id); });
    return true;
  }
  async function pollReader() {
    if (root.dataset.screen === "signin" && !live) {
      try { const r = await call("/poll"); if (r.badge) submitBadge(r.badge); } catch (e) { /* reader poll is best effort */ }
    }
    pollTimer = setTimeout(pollReader, live ? 5000 : 1000);
  }
  show("signin");
  try { const note = sessionStorage.getItem(NOTE); sessionStorage.removeItem(NOTE); if (note) message(t(note)); } catch (e) { /* none */ }
  if (root.dataset.signedIn) refresh();  // reloaded in the worker's language: the same sign-in goes on
  listen();
  pollReader();
})();
