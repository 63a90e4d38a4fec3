// Locate page: draws the floor map (floormap.js) from the JSON API; refreshes rooms, dots and "last seen" every 3 s.
(function () {
  "use strict";
  var svg = document.getElementById("floor-map");
  if (!svg) { return; }
  var map = window.VendtrackFloorMap, el = map.el;

  function ago(seconds) {
    if (seconds === null || seconds === undefined) { return "never"; }
    if (seconds < 5) { return "just now"; }
    if (seconds < 60) { return seconds + " s ago"; }
    if (seconds < 3600) { return Math.floor(seconds / 60) + " min ago"; }
    if (seconds < 86400) { return Math.floor(seconds / 3600) + " h ago"; }
    return Math.floor(seconds / 86400) + " d ago";
  }

  function draw(data) {
    var slots = {};
    var centres = map.draw(svg, data);
    Object.keys(centres).forEach(function (code) { slots[code] = 0; });
    data.assets.forEach(function (a) {
      var zone = a.location.zone;
      if (!zone || !centres[zone]) { return; }
      var n = slots[zone]++, angle = n * 2.4, radius = 0.6 + 0.28 * Math.sqrt(n);
      var c = centres[zone];
      var dot = el("circle", { "class": "dot " + a.status, r: 0.35, "data-asset-id": a.id, "data-zone": zone,
        cx: (c[0] + radius * Math.cos(angle)).toFixed(2), cy: (c[1] + radius * Math.sin(angle)).toFixed(2) });
      dot.appendChild(el("title", {}, a.name + " · " + a.location.zone_name + " · " + ago(a.location.last_seen_ago_s)));
      svg.appendChild(dot);
    });
  }

  function updateTable(data) {
    var byId = {};
    data.assets.forEach(function (a) { byId[a.id] = a; });
    document.querySelectorAll("#results tr[data-asset-id]").forEach(function (row) {
      var a = byId[row.getAttribute("data-asset-id")];
      if (!a) { return; }
      row.querySelector(".room").textContent = a.location.zone_name;
      row.querySelector(".seen").textContent = ago(a.location.last_seen_ago_s);
      row.querySelector(".conf").textContent = Math.round(a.location.confidence * 100) + " %";
    });
  }

  function refresh() {
    fetch(svg.getAttribute("data-src"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (data) {
        draw(data);
        updateTable(data);
        svg.setAttribute("data-refreshed", String(Date.now()));
        document.getElementById("map-status").textContent = "Updated " + new Date().toLocaleTimeString();
      })
      .catch(function (err) { document.getElementById("map-status").textContent = "Map update failed: " + err.message; });
  }

  refresh();
  window.setInterval(refresh, 3000);
})();
