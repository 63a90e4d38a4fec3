// Every page: the collapsing menu, tables as cards on phones (or scrolling in their own box), large-text mode.
(function () {
  "use strict";
  var html = document.documentElement;
  html.classList.add("js");
  try { if (localStorage.getItem("vendtrack.largeText") === "1") html.classList.add("large-text"); } catch (e) { /* private mode */ }

  var phone = window.matchMedia("(max-width: 640px)");

  function labelCells(table) {  // each cell gets its column's name, so a card can show "Status  Approved"
    var heads = table.tHead ? table.tHead.rows[table.tHead.rows.length - 1].cells : [];
    var names = [];
    Array.prototype.forEach.call(heads, function (th) {
      for (var i = 0; i < (th.colSpan || 1); i++) names.push(th.textContent.trim());
    });
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        var col = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          if (!cell.hasAttribute("data-label") && cell.colSpan === 1) cell.setAttribute("data-label", names[col] || "");
          col += cell.colSpan || 1;
        });
      });
    });
  }

  // Card layout drops the table's own semantics in some browsers: say them again with roles while it shows.
  function roles(table, on) {
    var set = function (el, role) { if (on) el.setAttribute("role", role); else el.removeAttribute("role"); };
    set(table, "table");
    Array.prototype.forEach.call(table.querySelectorAll(":scope > thead, :scope > tbody, :scope > tfoot"), function (g) { set(g, "rowgroup"); });
    Array.prototype.forEach.call(table.rows, function (row) {
      set(row, "row");
      Array.prototype.forEach.call(row.cells, function (cell) {
        set(cell, cell.tagName === "TH" ? (cell.parentNode.parentNode.tagName === "THEAD" ? "columnheader" : "rowheader") : "cell");
      });
    });
  }

  function prepareTables() {
    var cards = [];
    Array.prototype.forEach.call(document.querySelectorAll("main table"), function (table) {
      if (table.closest(".table-scroll") || table.closest("#kiosk")) return;
      var first = table.rows[0];
      if (!table.tHead && first && Array.prototype.every.call(first.cells, function (c) { return c.tagName === "TH"; })) {
        table.createTHead().appendChild(first);  // a header row written without <thead>
      }
      if (table.dataset.phone !== "scroll" && table.tHead) {
        table.classList.add("phone-cards"); labelCells(table); cards.push(table); return;
      }
      var box = document.createElement("div");
      box.className = "table-scroll"; box.tabIndex = 0; box.setAttribute("role", "region");
      var caption = table.caption ? table.caption.textContent.trim() : (table.getAttribute("aria-label") || "");
      box.setAttribute("aria-label", caption || (document.title.split(" · ")[0]));
      table.parentNode.insertBefore(box, table); box.appendChild(table);
    });
    var apply = function () { cards.forEach(function (t) { roles(t, phone.matches); }); };
    apply();
    if (phone.addEventListener) phone.addEventListener("change", apply);
  }

  function menu() {
    var button = document.getElementById("menu-toggle"), bar = button && button.closest(".topbar");
    if (!button) return;
    button.addEventListener("click", function () {
      var open = !bar.classList.contains("open");
      bar.classList.toggle("open", open);
      button.setAttribute("aria-expanded", String(open));
    });
    document.addEventListener("keydown", function (ev) {
      if (ev.key !== "Escape" || closeGroups(true)) return;  // Escape closes an open group first, then the menu
      if (bar.classList.contains("open")) { bar.classList.remove("open"); button.setAttribute("aria-expanded", "false"); button.focus(); }
    });
  }

  function closeGroups(refocus) {  // closes the open menu group (if any); true when one was open
    var closed = false;
    Array.prototype.forEach.call(document.querySelectorAll(".nav-group.open"), function (group) {
      var toggle = group.querySelector(".nav-group-toggle");
      group.classList.remove("open");
      toggle.setAttribute("aria-expanded", "false");
      if (refocus && group.contains(document.activeElement)) toggle.focus();
      closed = true;
    });
    return closed;
  }

  function menuGroups() {  // the grouped top menu: a button per group, one group open at a time, no hover needed
    Array.prototype.forEach.call(document.querySelectorAll(".nav-group"), function (group) {
      var toggle = group.querySelector(".nav-group-toggle");
      toggle.addEventListener("click", function () {
        var open = !group.classList.contains("open");
        closeGroups(false);
        group.classList.toggle("open", open);
        toggle.setAttribute("aria-expanded", String(open));
      });
    });
    document.addEventListener("click", function (ev) {  // a click elsewhere closes the open group
      if (!ev.target.closest || !ev.target.closest(".nav-group")) closeGroups(false);
    });
    document.addEventListener("focusin", function (ev) {  // so does moving the focus out of it
      var open = document.querySelector(".nav-group.open");
      if (open && !open.contains(ev.target)) closeGroups(false);
    });
  }

  function largeText() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-large-text]"), function (button) {
      var sync = function () { button.setAttribute("aria-pressed", String(html.classList.contains("large-text"))); };
      sync();
      button.addEventListener("click", function () {
        var on = html.classList.toggle("large-text");
        try { localStorage.setItem("vendtrack.largeText", on ? "1" : "0"); } catch (e) { /* private mode */ }
        sync();
      });
    });
  }

  function languagePicker() {  // the language form submits on change when scripts run; its button stays for others
    Array.prototype.forEach.call(document.querySelectorAll("form.lang-form select"), function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  }

  function ready() { prepareTables(); menu(); menuGroups(); largeText(); languagePicker(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready); else ready();
})();
