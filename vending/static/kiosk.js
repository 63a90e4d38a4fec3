// Kiosk page: badge (keyboard wedge, no click needed) or ID + PIN, item grid, dispense progress, auto sign-out.
(function () {
  "use strict";
  const root = document.getElementById("kiosk");
  const api = root.dataset.api;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const idleSeconds = Number(new URLSearchParams(location.search).get("idle") || root.dataset.idle);
  const $ = (id) => document.getElementById(id);
  let state = null, chosen = null, qty = 1, idleTimer = null, pollTimer = null;

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

  function show(name) {
    for (const s of root.querySelectorAll(".k-screen")) s.hidden = s.id !== "screen-" + name;
    root.dataset.screen = name;
    if (name === "signin") { $("badge").value = ""; $("badge").focus(); }
  }
  function message(text, ok) {
    const m = $("message");
    m.textContent = text || ""; m.hidden = !text; m.classList.toggle("ok", !!ok);
  }
  const escape = (t) => String(t).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));

  function signedIn(data) {
    state = data;
    $("who").textContent = data.worker.name;
    $("logout").hidden = false;
    $("restock-tab").hidden = !data.worker.restocker;
    renderCharges(); renderGrid(); renderTools(); tab("grid"); show("items"); touch();
  }
  function signOut(text) {
    state = null; chosen = null;
    $("who").textContent = ""; $("logout").hidden = true;
    clearTimeout(idleTimer);
    call("/logout", {}).catch(() => {});
    message(text || ""); show("signin");
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
      const tag = mode === "optional" ? '<span class="k-opt">optional</span>' : '<span class="k-req">required</span>';
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
      const status = i.state !== "ok" ? "out of service" : (i.stock < 1 ? "empty" : i.stock + " left");
      return '<li><button class="k-tile" data-slot="' + escape(i.slot) + '"' + (off ? " disabled" : "") + ">" +
        picture(i) + "<strong>" + escape(i.name) + '</strong><span class="k-slot">' + escape(i.slot) + "</span>" +
        '<span class="k-stock' + (off ? " out" : "") + '">' + escape(status) + "</span></button></li>";
    }).join("");
  }
  function renderTools() {
    const out = state.tools_out.map((t) => '<div class="k-row"><span>' + escape(t.serial + " " + t.name) +
      (t.due_at ? " · due " + escape(t.due_at) : "") + "</span>" +
      '<label>Condition <select data-condition="' + escape(t.serial) + '"><option value="ok">ok</option>' +
      '<option value="damaged">damaged</option><option value="lost">lost</option></select></label>' +
      '<button class="k-btn" data-return="' + escape(t.serial) + '">Return</button></div>').join("");
    const avail = state.tools_available.map((t) => '<div class="k-row"><span>' + escape(t.serial + " " + t.name) +
      '</span><button class="k-btn" data-checkout="' + escape(t.serial) + '">Check out</button></div>').join("");
    const off = state.tools_unavailable.map((t) => '<div class="k-row k-off" data-unavailable="' + escape(t.serial) + '"><span>' +
      escape(t.serial + " " + t.name) + '</span><span class="k-why">Not available: ' + escape(t.reason) + "</span></div>").join("");
    $("tools").innerHTML = '<div class="k-tools-cols"><div><h3>Yours</h3>' + (out || "<p>none</p>") +
      "</div><div><h3>Available</h3>" + (avail || "<p>none</p>") + "</div>" +
      (off ? "<div><h3>Not available</h3>" + off + "</div>" : "") + "</div>";
  }
  function tab(name) {
    for (const id of ["grid", "tools", "ask", "restock"]) $(id).hidden = id !== name;
    for (const b of root.querySelectorAll(".k-tab")) b.setAttribute("aria-selected", String(b.dataset.tab === name));
    if (name === "restock") loadRestock();
  }
  async function loadRestock() {
    try {
      const data = await call("/restock");
      $("restock").innerHTML = data.pick_list.map((p) => '<div class="k-row"><strong>' + escape(p.slot) + "</strong> " +
        escape(p.name) + " · " + p.on_hand + "/" + p.max + " · pick " + p.to_pick +
        ' <input type="number" min="0" placeholder="count" data-count="' + escape(p.slot) + '" style="max-width:6em">' +
        ' <input type="number" min="0" placeholder="added" value="' + p.to_pick + '" data-added="' + escape(p.slot) + '" style="max-width:6em">' +
        ' <button class="k-btn" data-restock="' + escape(p.slot) + '">Save</button></div>').join("") || "<p>Nothing to pick.</p>";
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
  const PHASES = {authorised: "Starting…", opening: "Opening the door…", vending: "Vending…", take: "Take your item and close the door",
    weighing: "Weighing…", commanded: "Working…", sensed: "Recording…"};

  async function take() {
    show("progress"); $("progress-text").textContent = "Checking…";
    try {
      const key = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
      let d = (await call("/dispense", {slot: chosen.slot, quantity: qty, charge_codes: chargeCodes(), request_key: key})).dispense;
      if (d.status === "refused") { message(d.detail); show("items"); return; }
      while (!["completed", "failed", "refused"].includes(d.status)) {
        $("progress-text").textContent = PHASES[d.phase] || PHASES[d.status] || "Working…";
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
    $("result-text").textContent = ok ? (d.taken >= 0 ? "Done: " + d.taken + " × " + d.name : "Returned: " + (-d.taken) + " × " + d.name)
      : "Not charged";
    $("result-detail").textContent = ok ? "Recorded. Thank you." : d.detail;
    root.dataset.result = d.status;
    show("result");
  }

  document.addEventListener("keydown", (ev) => {
    touch();
    if (root.dataset.screen === "signin" && document.activeElement.tagName !== "INPUT") $("badge").focus();
  });
  document.addEventListener("pointerdown", touch);
  $("badge").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") { ev.preventDefault(); const raw = $("badge").value; $("badge").value = ""; submitBadge(raw); }
  });
  $("show-pin").addEventListener("click", () => { $("pin-form").hidden = false; $("worker-code").focus(); });
  $("pin-form").addEventListener("click", async (ev) => {
    const key = ev.target.dataset && ev.target.dataset.key; if (!key) return;
    if (key === "C") { $("pin").value = ""; return; }
    if (key !== "OK") { $("pin").value += key; return; }
    try { message(""); signedIn(await call("/pin", {worker_code: $("worker-code").value, pin: $("pin").value})); }
    catch (e) { message(e.message); } finally { $("pin").value = ""; }
  });
  $("pin-form").addEventListener("submit", (ev) => ev.preventDefault());
  $("logout").addEventListener("click", () => signOut("Signed out."));
  $("charges").addEventListener("input", (ev) => { if (ev.target.value.trim()) ev.target.setAttribute("aria-invalid", "false"); touch(); });
  root.querySelector(".k-tabs").addEventListener("click", (ev) => { if (ev.target.dataset.tab) tab(ev.target.dataset.tab); });
  $("grid").addEventListener("click", (ev) => {
    const tile = ev.target.closest("[data-slot]"); if (!tile || tile.disabled) return;
    const missing = missingCharge();
    if (missing) {
      message("Enter the " + missing.dataset.label + " first: it is required on this machine.");
      missing.focus(); return;
    }
    chosen = state.items.find((i) => i.slot === tile.dataset.slot); qty = 1;
    $("qty").textContent = "1"; $("confirm-name").textContent = chosen.name + " (" + chosen.slot + ")";
    message(""); show("confirm");
  });
  $("qty-minus").addEventListener("click", () => { qty = Math.max(1, qty - 1); $("qty").textContent = qty; });
  $("qty-plus").addEventListener("click", () => { qty = Math.min(chosen.stock, qty + 1); $("qty").textContent = qty; });
  $("take").addEventListener("click", take);
  $("cancel").addEventListener("click", () => show("items"));
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
    try { await call("/request-item", {description: $("ask-text").value}); message("Request sent. Thank you.", true); $("ask-text").value = ""; }
    catch (e) { message(e.message); }
  });
  $("restock").addEventListener("click", async (ev) => {
    const slot = ev.target.dataset && ev.target.dataset.restock; if (!slot) return;
    const counted = root.querySelector('[data-count="' + slot + '"]').value;
    const added = root.querySelector('[data-added="' + slot + '"]').value;
    try {
      const r = await call("/restock/" + encodeURIComponent(slot), {counted: counted, added: added});
      message(r.flagged ? "Slot " + slot + ": counted " + r.counted + ", expected " + r.expected + ": flagged for a manager to review" : "Slot " + slot + " saved", !r.flagged);
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
  listen();
  pollReader();
})();
