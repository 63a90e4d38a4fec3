// Setup pages: floor maps of the saved zones and gateways, and on the forms a live preview of what is being typed.
// A click on the map adds a polygon point (zone form) or places the gateway (gateway form).
(function () {
  "use strict";
  var source = document.getElementById("floor-data");
  if (!source) { return; }
  var data = JSON.parse(source.textContent), map = window.VendtrackFloorMap, el = map.el;
  var MIN_EXTENT = [20, 12];

  function zoneOf(code) {
    return data.zones.filter(function (z) { return z.code === code; })[0];
  }

  // The saved zones and gateways of one building floor, leaving out the zone or gateway being edited.
  function onFloor(building, floor, skipZone, skipGateway) {
    var zones = data.zones.filter(function (z) {
      return z.building === building && z.floor === floor && z.code !== skipZone;
    });
    var codes = {};
    zones.forEach(function (z) { codes[z.code] = true; });
    var gateways = data.gateways.filter(function (g) {
      var zone = zoneOf(g.zone);
      return g.gateway_id !== skipGateway && zone && zone.building === building && zone.floor === floor;
    });
    return { zones: zones, gateways: gateways };
  }

  function parsePoints(text) {
    var points = [], error = "";
    text.trim().replace(/\s*,\s*/g, ",").split(/\s+/).forEach(function (pair, i) {
      if (!pair || error) { return; }
      var parts = pair.split(","), x = Number(parts[0]), y = Number(parts[1]);
      if (parts.length !== 2 || parts[0] === "" || parts[1] === "" || !isFinite(x) || !isFinite(y)) {
        error = "point " + (i + 1) + " (" + pair + ") is not x,y";
      } else {
        points.push([x, y]);
      }
    });
    return { points: points, error: error };
  }

  function clickPoint(svg, event) {
    var pt = svg.createSVGPoint();
    pt.x = event.clientX;
    pt.y = event.clientY;
    var p = pt.matrixTransform(svg.getScreenCTM().inverse());
    return [Math.round(p.x * 10) / 10, Math.round(p.y * 10) / 10];
  }

  function field(form, name) { return form.elements.namedItem(name); }

  document.querySelectorAll("svg.floor-map[data-building]").forEach(function (svg) {
    map.draw(svg, onFloor(svg.getAttribute("data-building"), svg.getAttribute("data-floor")), {});
  });

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  var zoneForm = document.getElementById("zone-form");
  var gatewayForm = document.getElementById("gateway-form");
  var svg = document.getElementById("setup-map");
  var status = document.getElementById("preview-status");
  if (!svg) { return; }

  function drawZoneDraft() {
    var editing = zoneForm.getAttribute("data-editing");
    var parsed = parsePoints(field(zoneForm, "polygon").value);
    var floor = onFloor(field(zoneForm, "building").value.trim(), field(zoneForm, "floor").value.trim(), editing);
    map.draw(svg, floor, { fit: parsed.points, minExtent: MIN_EXTENT });
    var code = field(zoneForm, "code").value.trim() || "new";
    var kind = field(zoneForm, "kind").value;
    var joined = parsed.points.map(function (p) { return p.join(","); }).join(" ");
    if (parsed.points.length >= 3) {
      svg.appendChild(el("polygon", { "class": "zone draft " + kind, "data-zone": code, points: joined }));
      svg.appendChild(el("text", { "class": "label", x: parsed.points[0][0] + 0.3, y: parsed.points[0][1] + 1.1 },
        field(zoneForm, "name").value.trim() || code));
    } else if (parsed.points.length) {
      svg.appendChild(el("polyline", { "class": "draft-line", points: joined }));
    }
    parsed.points.forEach(function (p) {
      svg.appendChild(el("circle", { "class": "vertex", cx: p[0], cy: p[1], r: 0.2 }));
    });
    status.textContent = parsed.error ? parsed.error + ": write x,y pairs separated by spaces"
      : parsed.points.length + " point" + (parsed.points.length === 1 ? "" : "s") +
        (parsed.points.length < 3 ? " (a zone needs at least 3)" : "") + ". Click the map to add a point.";
  }

  function drawGatewayDraft() {
    var zone = zoneOf(field(gatewayForm, "zone").value);
    var editing = gatewayForm.getAttribute("data-editing");
    var floor = zone ? onFloor(zone.building, zone.floor, "", editing) : { zones: [], gateways: [] };
    var x = Number(field(gatewayForm, "x").value), y = Number(field(gatewayForm, "y").value);
    var placed = field(gatewayForm, "x").value.trim() !== "" && field(gatewayForm, "y").value.trim() !== "" &&
      isFinite(x) && isFinite(y);
    map.draw(svg, floor, { fit: placed ? [[x, y]] : [], minExtent: MIN_EXTENT, highlight: zone ? zone.code : "" });
    if (placed) {
      var id = field(gatewayForm, "gateway_id").value.trim() || "new";
      svg.appendChild(el("rect", { "class": "gw draft", "data-gateway": id, x: x - 0.3, y: y - 0.3,
        width: 0.6, height: 0.6 }));
    }
    status.textContent = (zone ? "" : "Choose the zone first. ") +
      (placed ? "At " + x + ", " + y + "." : "Enter x and y, or click the map to place the gateway.");
  }

  if (zoneForm) {
    zoneForm.addEventListener("input", drawZoneDraft);
    svg.addEventListener("click", function (event) {
      var p = clickPoint(svg, event), box = field(zoneForm, "polygon");
      box.value = (box.value.trim() + " " + p.join(",")).trim();
      drawZoneDraft();
    });
    var undo = document.getElementById("remove-point");
    if (undo) {
      undo.addEventListener("click", function () {
        var box = field(zoneForm, "polygon");
        box.value = box.value.trim().split(/\s+/).slice(0, -1).join(" ");
        drawZoneDraft();
      });
    }
    drawZoneDraft();
  } else if (gatewayForm) {
    gatewayForm.addEventListener("input", drawGatewayDraft);  // not "change": a redraw on blur would eat the click
    svg.addEventListener("click", function (event) {
      var p = clickPoint(svg, event);
      field(gatewayForm, "x").value = p[0];
      field(gatewayForm, "y").value = p[1];
      drawGatewayDraft();
    });
    drawGatewayDraft();
  }
})();
