// Locate page: draws one floor of the map (floormap.js) from the JSON API and refreshes rooms, dots and
// "last seen" when the server pushes a move (the `assets` events of data-events-src, tracking.locate_events),
// with a slow refresh for the "last seen" ages; while the stream is not open it polls every 3 s as before. The
// floor shown is kept in the URL (?building=&floor=) and in sessionStorage, so the refreshes, a reload and a
// shared link all show the same floor; a search or "Show on map" switches to the asset's floor and highlights it.
(function () {
  "use strict";
  var svg = document.getElementById("floor-map");
  if (!svg) { return; }
  var map = window.VendtrackFloorMap, el = map.el;
  var STORE = "vendtrack.locate.floor";
  var picker = document.getElementById("floor-picker");
  var state = {
    floor: svg.hasAttribute("data-floor")
      ? { building: svg.getAttribute("data-building"), floor: svg.getAttribute("data-floor") } : null,
    highlight: svg.getAttribute("data-highlight") || ""
  };

  // Same wording as tracking/views.py: span(), ago(), seen_text(), room_text().
  function span(seconds) {
    if (seconds < 60) { return seconds + " s"; }
    if (seconds < 3600) { return Math.floor(seconds / 60) + " min"; }
    if (seconds < 86400) { return Math.floor(seconds / 3600) + " h"; }
    return Math.floor(seconds / 86400) + " d";
  }

  function ago(seconds) {
    if (seconds === null || seconds === undefined) { return "never"; }
    if (seconds < 5) { return "just now"; }
    return span(seconds) + " ago";
  }

  var QUIET_S = 60;

  function seenText(loc) {
    var quiet = loc.last_seen_ago_s;
    if (loc.zone) { return ago(quiet); }
    if (quiet === null || quiet === undefined) { return "never heard"; }
    return quiet >= QUIET_S ? "not heard for " + span(quiet) : "heard " + ago(quiet);
  }

  function roomText(loc) {
    if (loc.zone) { return loc.zone_name; }
    var quiet = loc.last_seen_ago_s;
    var state = quiet !== null && quiet !== undefined && quiet < QUIET_S ? "Between rooms" : "Unknown";
    return state + " · " + (loc.last_zone_name ? "last in " + loc.last_zone_name : "never located");
  }

  // Same wording as services.FloorRef.label: "Ward B, floor 2".
  function floorLabel(building, floor) {
    if (building === null || building === undefined || floor === null || floor === undefined) { return ""; }
    if (!floor) { return building || "no building or floor"; }
    return building ? building + ", floor " + floor : "floor " + floor;
  }

  function pickerButton(floor) {
    if (!picker || !floor) { return null; }
    var found = null;
    picker.querySelectorAll("a.floor-button").forEach(function (a) {
      if (a.getAttribute("data-building") === floor.building && a.getAttribute("data-floor") === floor.floor) {
        found = a;
      }
    });
    return found;
  }

  function markFloor(floor) {
    if (picker) {
      picker.querySelectorAll("a.floor-button").forEach(function (a) { a.removeAttribute("aria-current"); });
      var current = pickerButton(floor);
      if (current) { current.setAttribute("aria-current", "true"); }
    }
    var heading = document.getElementById("map-floor");
    if (heading && floor) { heading.textContent = floorLabel(floor.building, floor.floor); }
    if (floor) {
      svg.setAttribute("data-building", floor.building);
      svg.setAttribute("data-floor", floor.floor);
    }
  }

  function remember(floor) {
    if (!picker || !floor) { return; }  // one floor only: nothing to remember
    var url = new URL(window.location.href);
    url.searchParams.set("building", floor.building);
    url.searchParams.set("floor", floor.floor);
    window.history.replaceState(null, "", url.toString());
    try { window.sessionStorage.setItem(STORE, JSON.stringify(floor)); } catch (e) { /* private mode */ }
  }

  function show(floor, highlight) {
    state.floor = floor;
    if (highlight !== undefined) { state.highlight = highlight; }
    markFloor(floor);
    remember(floor);
    refresh();
  }

  // Markers are links to the asset's page, with a name a screen reader reads and a hit area of at least
  // 44 css px whatever the zoom; the table under the map lists the same assets for those who prefer a list.
  var zoom = 1, ZOOMS = [1, 1.5, 2, 3, 4];
  function pxPerMetre() {
    var box = svg.viewBox && svg.viewBox.baseVal;
    return box && box.width ? svg.getBoundingClientRect().width / box.width : 10;
  }

  function marker(a, c, radius, angle, selected) {
    var name = a.name + ", " + a.status_label + ", " + a.location.zone_name + ", " + ago(a.location.last_seen_ago_s);
    var link = el("a", { href: (svg.getAttribute("data-asset-url") || "/tracking/assets/0").replace(/0$/, String(a.id)), "class": "marker", "data-asset-id": a.id, "aria-label": name });
    var cx = (c[0] + radius * Math.cos(angle)).toFixed(2), cy = (c[1] + radius * Math.sin(angle)).toFixed(2);
    link.appendChild(el("circle", { "class": "hit", r: Math.max(0.6, 23 / pxPerMetre()).toFixed(2), cx: cx, cy: cy }));
    var dot = el("circle", { "class": "dot " + a.status + (selected ? " selected" : ""), r: selected ? 0.55 : 0.35,
      "data-asset-id": a.id, "data-zone": a.location.zone, cx: cx, cy: cy });
    dot.appendChild(el("title", {}, name));
    link.appendChild(dot);
    return link;
  }

  function draw(data) {
    var focused = document.activeElement && svg.contains(document.activeElement)
      ? document.activeElement.getAttribute("data-asset-id") : null;
    var slots = {}, chosen = null;
    data.assets.forEach(function (a) { if (String(a.id) === state.highlight) { chosen = a; } });
    var centres = map.draw(svg, data, { highlight: chosen && chosen.location.zone ? chosen.location.zone : "" });
    Object.keys(centres).forEach(function (code) { slots[code] = 0; });
    data.assets.forEach(function (a) {
      var zone = a.location.zone;
      if (!zone || !centres[zone]) { return; }  // unknown, or on another floor
      var n = slots[zone]++, angle = n * 2.4, radius = 0.6 + 0.28 * Math.sqrt(n);
      svg.appendChild(marker(a, centres[zone], radius, angle, a === chosen));
    });
    if (focused) {  // a refresh redraws the map: keep the keyboard's place
      var again = svg.querySelector('a.marker[data-asset-id="' + focused + '"]');
      if (again) { again.focus(); }
    }
  }

  var viewport = document.getElementById("map-viewport");
  function setZoom(level) {
    zoom = Math.min(Math.max(level, ZOOMS[0]), ZOOMS[ZOOMS.length - 1]);
    svg.style.width = (zoom * 100) + "%";
    var out = document.getElementById("map-zoom-level");
    if (out) { out.textContent = Math.round(zoom * 100) + " %"; }
    refresh();
  }
  document.querySelectorAll("[data-map-zoom]").forEach(function (button) {
    button.addEventListener("click", function () {
      var how = button.getAttribute("data-map-zoom"), at = ZOOMS.indexOf(zoom);
      if (how === "in") { setZoom(ZOOMS[Math.min(at + 1, ZOOMS.length - 1)]); }
      else if (how === "out") { setZoom(ZOOMS[Math.max(at - 1, 0)]); }
      else { setZoom(1); if (viewport) { viewport.scrollLeft = 0; viewport.scrollTop = 0; } }
    });
  });

  function updateTable(data) {
    var byId = {};
    data.assets.forEach(function (a) { byId[a.id] = a; });
    document.querySelectorAll("#results tr[data-asset-id], #nearest tr[data-asset-id]").forEach(function (row) {
      var a = byId[row.getAttribute("data-asset-id")];
      if (!a) { return; }
      var loc = a.location, where = floorLabel(loc.building, loc.floor);
      row.setAttribute("data-building", loc.building === null ? "" : loc.building);
      row.setAttribute("data-floor", loc.floor === null ? "" : loc.floor);
      var button = row.querySelector(".show-on-map");
      if (button) { button.disabled = !loc.zone; }
      row.querySelector(".room").textContent = roomText(loc);
      var whereCell = row.querySelector(".where");
      if (whereCell) { whereCell.textContent = where ? "· " + where : ""; }
      if (row.closest("#results")) {
        row.querySelector(".seen").textContent = seenText(loc);
        row.querySelector(".conf").textContent = loc.zone ? Math.round(loc.confidence * 100) + " %" : "—";
      }
    });
  }

  function source() {
    var src = svg.getAttribute("data-src");
    if (!state.floor) { return src; }
    return src + (src.indexOf("?") < 0 ? "?" : "&") + "building=" + encodeURIComponent(state.floor.building) +
      "&floor=" + encodeURIComponent(state.floor.floor);
  }

  function refresh() {
    var asked = state.floor;
    fetch(source(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 400 && asked) {  // the floor no longer has zones: fall back to the first floor
          state.floor = null;
          throw new Error("that floor has no zones any more");
        }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (data) {
        if (asked !== state.floor) { return; }  // the nurse switched floors while this was in flight
        if (data.floor) { state.floor = { building: data.floor.building, floor: data.floor.floor }; }
        markFloor(state.floor);
        draw(data);
        updateTable(data);
        svg.setAttribute("data-refreshed", String(Date.now()));
        document.getElementById("map-status").textContent = "Updated " + new Date().toLocaleTimeString();
      })
      .catch(function (err) { document.getElementById("map-status").textContent = "Map update failed: " + err.message; });
  }

  if (picker) {
    picker.addEventListener("click", function (event) {
      var button = event.target.closest("a.floor-button");
      if (!button) { return; }
      event.preventDefault();
      show({ building: button.getAttribute("data-building"), floor: button.getAttribute("data-floor") });
    });
  }
  document.querySelectorAll(".show-on-map").forEach(function (button) {
    button.addEventListener("click", function () {
      var row = button.closest("tr");
      show({ building: row.getAttribute("data-building"), floor: row.getAttribute("data-floor") },
        button.getAttribute("data-asset-id"));
    });
  });

  // Nothing on the page chose the floor (no link, no search result): the floor picked last in this tab, if any.
  if (svg.getAttribute("data-floor-source") === "default" && picker) {
    var stored = null;
    try { stored = JSON.parse(window.sessionStorage.getItem(STORE) || "null"); } catch (e) { stored = null; }
    if (stored && pickerButton(stored)) { state.floor = stored; markFloor(stored); }
  }
  if (state.floor && svg.getAttribute("data-floor-source") !== "default") { remember(state.floor); }
  refresh();

  // Push when the event stream is open (data-refresh="push"), polling while it is not (data-refresh="poll"):
  // EventSource reconnects by itself after a drop; a refused stream (e.g. signed out) stays on polling.
  var POLL_MS = 3000, PUSHED_MS = 30000, timer = null, every = 0, pending = null;
  function refreshEvery(ms, how) {
    svg.setAttribute("data-refresh", how);
    if (ms === every) { return; }
    if (timer) { window.clearInterval(timer); }
    every = ms;
    timer = window.setInterval(refresh, ms);
  }
  function soon() {  // one refresh for a burst of notices
    if (pending) { return; }
    pending = window.setTimeout(function () { pending = null; refresh(); }, 100);
  }
  refreshEvery(POLL_MS, "poll");
  var events = svg.getAttribute("data-events-src");
  if (events && window.EventSource) {
    var stream = new window.EventSource(events);
    stream.addEventListener("open", function () { refreshEvery(PUSHED_MS, "push"); soon(); });  // soon: missed moves
    stream.addEventListener("assets", soon);
    stream.addEventListener("error", function () { refreshEvery(POLL_MS, "poll"); });
    window.addEventListener("pagehide", function () { stream.close(); });
  }
})();
