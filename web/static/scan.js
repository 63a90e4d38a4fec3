// The scan button (web/templates/_scan.html): the rear camera reads a label's QR code or barcode with the vendored
// zxing-wasm reader (loaded from this server only when a scan starts), or the code is typed; the button's resolver
// says which record it is and the page opens it. Without a camera, or when it is refused, a sentence says why and
// the typed field takes over.
(function () {
  "use strict";
  var dialog = document.getElementById("scan-dialog");
  if (!dialog || typeof dialog.showModal !== "function") return;
  var video = document.getElementById("scan-video");
  var view = document.getElementById("scan-view");
  var status = document.getElementById("scan-status");
  var typed = document.getElementById("scan-typed");
  var input = document.getElementById("scan-code");
  var canvas = document.createElement("canvas");
  var texts = {};
  Array.prototype.forEach.call(dialog.querySelectorAll("#scan-texts [data-text]"), function (el) {
    texts[el.getAttribute("data-text")] = el.textContent.trim();
  });
  // QR and Data Matrix (our labels, GS1 labels), Code 128 (the PO PDF, GS1-128), and the retail codes on packs
  var READ = { formats: ["QRCode", "DataMatrix", "Code128", "Code39", "EANUPC", "DataBar", "DataBarExp"],
               tryHarder: true, maxNumberOfSymbols: 1 };
  var button = null, stream = null, timer = null, reading = false, paused = false, reader = null, loading = null;
  var last = { text: "", at: 0 };

  function say(key, values, problem) {
    var text = texts[key] || key;
    Object.keys(values || {}).forEach(function (name) { text = text.replace("{" + name + "}", values[name]); });
    status.textContent = text;
    status.classList.toggle("error", !!problem);
  }

  function loadReader() {
    if (loading) return loading;
    loading = new Promise(function (resolve, reject) {
      if (window.ZXingWASM) { resolve(window.ZXingWASM); return; }
      var script = document.createElement("script");
      script.src = dialog.getAttribute("data-lib");
      script.onload = function () { window.ZXingWASM ? resolve(window.ZXingWASM) : reject(new Error("no reader")); };
      script.onerror = function () { reject(new Error("reader not loaded")); };
      document.head.appendChild(script);
    }).then(function (zxing) {
      var wasm = dialog.getAttribute("data-wasm");
      return zxing.prepareZXingModule({  // our copy of the .wasm, never the library's default CDN address
        overrides: { locateFile: function (path, prefix) { return /\.wasm$/.test(path) ? wasm : prefix + path; } },
        fireImmediately: true
      }).then(function () { return zxing; });
    });
    loading.catch(function () { loading = null; });
    return loading;
  }

  function stopCamera() {
    clearTimeout(timer);
    timer = null;
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    video.srcObject = null;
    view.hidden = true;
  }

  function fallBack(key) {
    stopCamera();
    say(key, null, true);
    input.focus();
  }

  function cameraProblem(error) {
    var name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") return "denied";
    if (name === "NotReadableError" || name === "AbortError" || name === "TrackStartError") return "busy";
    return "no-camera";
  }

  function startCamera() {
    if (!window.isSecureContext) { fallBack("insecure"); return; }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { fallBack("no-camera"); return; }
    say("starting");
    var wanted = { audio: false, video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } } };
    navigator.mediaDevices.getUserMedia(wanted).then(function (got) {
      if (!dialog.open) { got.getTracks().forEach(function (t) { t.stop(); }); return; }
      stream = got;
      video.srcObject = got;
      view.hidden = false;
      var playing = video.play();
      if (playing && playing.catch) playing.catch(function () { /* autoplay of a muted video is allowed */ });
      return loadReader().then(function (zxing) {
        reader = zxing;
        paused = false;
        say("looking");
        schedule(0);
      }, function () { fallBack("no-reader"); });
    }, function (error) { fallBack(cameraProblem(error)); });
  }

  function schedule(delay) {
    clearTimeout(timer);
    if (stream) timer = setTimeout(tick, delay);
  }

  function tick() {
    if (!stream || reading || paused) return;
    if (video.readyState < 2 || !video.videoWidth) { schedule(100); return; }
    var scale = Math.min(1, 1280 / Math.max(video.videoWidth, video.videoHeight));
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    var context = canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    reading = true;
    reader.readBarcodes(context.getImageData(0, 0, canvas.width, canvas.height), READ).then(function (found) {
      reading = false;
      var hit = found.filter(function (r) { return r.isValid && r.text; })[0];
      var now = Date.now();
      if (hit && stream && !paused && !(hit.text === last.text && now - last.at < 4000)) {
        last = { text: hit.text, at: now };
        paused = true;
        openCode(hit.text);
      } else {
        schedule(120);
      }
    }, function () { reading = false; schedule(250); });
  }

  function resume() {
    paused = false;
    schedule(1500);  // time to read the message before the next label is taken
  }

  function foreignHost(text) {
    if (!/^https?:\/\//i.test(text)) return "";
    try {
      var link = new URL(text);
      return link.hostname.toLowerCase() === location.hostname.toLowerCase() ? "" : link.hostname;
    } catch (e) { return ""; }  // not a valid link: the server says what it is
  }

  function handOver(text) {  // a code this resolver does not know goes to the page's own form (receiving by scan)
    var field = document.querySelector(button.getAttribute("data-scan-fallback"));
    if (!field || !field.form) return false;
    stopCamera();
    dialog.close();
    field.value = text;
    if (field.form.requestSubmit) field.form.requestSubmit(); else field.form.submit();
    return true;
  }

  function openCode(raw) {
    var text = raw.trim();
    if (!text) return;
    var host = foreignHost(text);
    if (host) { say("foreign", { host: host }, true); resume(); return; }
    say("opening", { code: text.length > 48 ? text.slice(0, 48) + "…" : text });
    fetch(button.getAttribute("data-scan") + "?code=" + encodeURIComponent(text),
          { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) {
        if (answer.ok && answer.body.url) {
          stopCamera();
          dialog.close();
          var target = new URL(answer.body.url, location.href);
          if (target.pathname === location.pathname && target.search === location.search && target.hash) {
            location.hash = target.hash;  // this page already: go to its part (the receiving form)
          } else {
            location.assign(target.href);
          }
          return;
        }
        var error = answer.body.error || {};
        var on = button.getAttribute("data-scan-fallback-on");
        if (on && error.code === on && handOver(text)) return;
        say(error.message || "offline", null, true);
        resume();
      })
      .catch(function () { say("offline", null, true); resume(); });
  }

  function openDialog(from) {
    button = from;
    document.getElementById("scan-title").textContent = from.getAttribute("data-scan-title");
    input.value = "";
    last = { text: "", at: 0 };
    dialog.showModal();
    startCamera();
  }

  typed.addEventListener("submit", function (event) {
    event.preventDefault();
    last = { text: "", at: 0 };
    paused = true;
    openCode(input.value);
  });
  document.getElementById("scan-cancel").addEventListener("click", function () { dialog.close(); });
  dialog.addEventListener("close", stopCamera);
  Array.prototype.forEach.call(document.querySelectorAll("[data-scan]"), function (el) {
    el.hidden = false;
    el.addEventListener("click", function () { openDialog(el); });
  });
})();
