// Locate page: draws the floor map from the JSON API and refreshes rooms, dots and "last seen" every 3 s.
(function () {
  "use strict";
  var svg = document.getElementById("floor-map");
  if (!svg) { return; }
  var NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, text) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) { node.textContent = text; }
    return node;
  }

  function ago(seconds) {
    if (seconds === null || seconds === undefined) { return "never"; }
    if (seconds < 5) { return "just now"; }
    if (seconds < 60) { return seconds + " s ago"; }
    if (seconds < 3600) { return Math.floor(seconds / 60) + " min ago"; }
    if (seconds < 86400) { return Math.floor(seconds / 3600) + " h ago"; }
    return Math.floor(seconds / 86400) + " d ago";
  }

  function centre(points) {
    var x = 0, y = 0;
    points.forEach(function (p) { x += p[0]; y += p[1]; });
    return [x / points.length, y / points.length];
  }

  function draw(data) {
    var maxX = 1, maxY = 1, centres = {}, slots = {};
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    data.zones.forEach(function (z) {
      if (!z.points.length) { return; }
      z.points.forEach(function (p) { maxX = Math.max(maxX, p[0]); maxY = Math.max(maxY, p[1]); });
      svg.appendChild(el("polygon", { "class": "zone " + z.kind, "data-zone": z.code,
        points: z.points.map(function (p) { return p.join(","); }).join(" ") }));
      var c = centres[z.code] = centre(z.points);
      svg.appendChild(el("text", { "class": "label", x: z.points[0][0] + 0.3, y: z.points[0][1] + 1.1 }, z.name));
      slots[z.code] = 0;
      return c;
    });
    data.gateways.forEach(function (g) {
      svg.appendChild(el("rect", { "class": "gw " + g.status, x: g.x - 0.25, y: g.y - 0.25, width: 0.5, height: 0.5 },
        ""));
    });
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
    svg.setAttribute("viewBox", "-0.5 -0.5 " + (maxX + 1) + " " + (maxY + 1));
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
