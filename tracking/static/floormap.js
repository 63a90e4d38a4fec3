// Floor map drawing shared by the locate page and the setup pages: zone polygons, their names, gateway squares.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, text) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) { node.textContent = text; }
    return node;
  }

  function centre(points) {
    var x = 0, y = 0;
    points.forEach(function (p) { x += p[0]; y += p[1]; });
    return [x / points.length, y / points.length];
  }

  var LABEL_SIZE = 0.9, MIN_LABEL_SIZE = 0.5, CHAR_WIDTH = 0.56;  // font size in metres; average glyph width / size

  // The zone's name in its top-left corner, made to fit its width: smaller type, then one word per line.
  function label(z) {
    var xs = z.points.map(function (p) { return p[0]; }), ys = z.points.map(function (p) { return p[1]; });
    var left = Math.min.apply(null, xs), top = Math.min.apply(null, ys);
    var room = Math.max(Math.max.apply(null, xs) - left - 0.6, 0.5);
    function sizeFor(lines) {
      var longest = Math.max.apply(null, lines.map(function (l) { return l.length; }));
      return Math.min(LABEL_SIZE, room / (longest * CHAR_WIDTH));
    }
    var lines = [z.name], size = sizeFor(lines);
    if (size < LABEL_SIZE && z.name.indexOf(" ") > 0) {
      var words = z.name.split(/\s+/), wrapped = sizeFor(words);
      if (wrapped > size) { lines = words; size = wrapped; }
    }
    size = Math.max(size, MIN_LABEL_SIZE);
    var text = el("text", { "class": "label", x: left + 0.3, y: top + 0.3 + size, "font-size": size.toFixed(2) });
    lines.forEach(function (line, i) {
      text.appendChild(el("tspan", { x: left + 0.3, dy: i === 0 ? 0 : (size * 1.1).toFixed(2) }, line));
    });
    text.appendChild(el("title", {}, z.name));
    text.labelBottom = top + 0.3 + size * (1 + 1.1 * (lines.length - 1)) + 0.3;
    return text;
  }

  // Where a zone's dots go: its centre, moved down when the name would sit on them (small zones).
  function below(points, labelBottom) {
    var c = centre(points), bottom = Math.max.apply(null, points.map(function (p) { return p[1]; }));
    var clear = (labelBottom + bottom) / 2;
    return [c[0], Math.max(c[1], Math.min(clear, bottom - 0.8))];
  }

  // Draws data.zones ({code, name, kind, points}) and data.gateways ({gateway_id, zone, x, y, status}) into svg.
  // options.fit: extra [x, y] points the view must include (drafts); options.minExtent: [width, height] in metres;
  // options.highlight: a zone code drawn as selected. Returns the zone centres by code.
  function draw(svg, data, options) {
    options = options || {};
    var box = { minX: 0, minY: 0, maxX: 1, maxY: 1 }, centres = {};
    function fit(p) {
      box.minX = Math.min(box.minX, p[0]); box.minY = Math.min(box.minY, p[1]);
      box.maxX = Math.max(box.maxX, p[0]); box.maxY = Math.max(box.maxY, p[1]);
    }
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    data.zones.forEach(function (z) {
      if (!z.points.length) { return; }
      z.points.forEach(fit);
      var cls = "zone " + z.kind + (options.highlight === z.code ? " selected" : "");
      var shape = el("polygon", { "class": cls, "data-zone": z.code,
        points: z.points.map(function (p) { return p.join(","); }).join(" ") });
      shape.appendChild(el("title", {}, z.code + " · " + z.name));
      svg.appendChild(shape);
      var text = label(z);
      centres[z.code] = below(z.points, text.labelBottom);
      svg.appendChild(text);
    });
    data.gateways.forEach(function (g) {
      fit([g.x, g.y]);
      var square = el("rect", { "class": "gw " + g.status, "data-gateway": g.gateway_id, "data-zone": g.zone,
        x: g.x - 0.25, y: g.y - 0.25, width: 0.5, height: 0.5 });
      square.appendChild(el("title", {}, g.gateway_id + " · " + g.zone + " · " + g.status));
      svg.appendChild(square);
    });
    (options.fit || []).forEach(fit);
    if (options.minExtent) {
      box.maxX = Math.max(box.maxX, box.minX + options.minExtent[0]);
      box.maxY = Math.max(box.maxY, box.minY + options.minExtent[1]);
    }
    svg.setAttribute("viewBox", [box.minX - 0.5, box.minY - 0.5, box.maxX - box.minX + 1, box.maxY - box.minY + 1]
      .join(" "));
    return centres;
  }

  window.VendtrackFloorMap = { draw: draw, el: el, centre: centre };
})();
