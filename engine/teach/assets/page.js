(function () {
  "use strict";
  // Everything on the page is written with textContent (never as HTML); the only
  // markup added is cloned from elements the page already holds (the MathML).
  var D = JSON.parse(document.getElementById("chainrule-data").textContent);
  var SVGNS = "http://www.w3.org/2000/svg";
  var MIN_TEXT_PX = D.minTextPx || 11;   // never show the drawing's text smaller
  var MAX_TEXT_PX = 48;                  // nor zoom in further than this
  var NATURAL = 4 / 3;                   // px per pt: Graphviz's size at 100%
  var graphBox = document.getElementById("graph");
  var svg = null, nodeEls = {}, badges = {}, dataCells = {}, cellFill = {}, edgeEls = {};
  var rowsById = {};
  var nf = D.hasForward ? D.forward.length : 0;
  var F = D.hasForward ? nf + 1 : 0;     // positions 0..nf: the forward pass
  var nb = D.steps.length, total = F + nb, pos = 0;  // F..F+nb: backward steps 0..nb

  // --- the drawing: found by the node ids that dot (or Viz.js) writes as <title> -------
  var deltaCells = {};
  function fillOf(text) {  // a cell's background: the nearest filled polygon before its text
    for (var el = text.previousElementSibling; el; el = el.previousElementSibling) {
      var fill = el.tagName === "polygon" && el.getAttribute("fill");
      if (fill && fill !== "none" && fill !== "transparent") return el;
    }
    return null;
  }
  function attach(el) {
    svg = el;
    svg.querySelectorAll("g.node").forEach(function (g) {
      var t = g.querySelector("title");
      if (t) nodeEls[t.textContent.trim()] = g;
    });
    svg.querySelectorAll("g.edge").forEach(function (e) { if (e.id) edgeEls[e.id] = e; });
    D.nodes.forEach(function (n) {
      var g = nodeEls[n.id];
      if (!g) return;
      var texts = Array.prototype.slice.call(g.querySelectorAll("text"));
      if (n.delta) {  // a collapsed neuron's delta cell: dL/dz of this node
        var delta = texts.filter(function (t) { return /^δ/.test(t.textContent.trim()); })[0];
        if (delta) deltaCells[n.id] = { text: delta, fill: fillOf(delta) };
      }
      if (!n.cell) return;  // a node inside a collapsed neuron: its cells show another
      var data = texts.filter(function (t) { return /^data\b/.test(t.textContent.trim()); })[0];
      if (data) dataCells[n.id] = data;
      // the drawer's own gradient cell ("grad ?") if it has one, else a badge above the node
      var cell = texts.filter(function (t) { return /^grad\b/.test(t.textContent.trim()); })[0];
      if (cell) {
        cell.classList.add("cr-grad");
        badges[n.id] = cell;
        var fill = fillOf(cell);
        if (fill) cellFill[n.id] = fill;
        return;
      }
      if (n.delta || texts.some(function (t) { return /^δ/.test(t.textContent.trim()); })) {
        return;  // a neuron shows its delta, not a gradient badge
      }
      var box = g.getBBox();
      var t = document.createElementNS(SVGNS, "text");
      t.setAttribute("x", box.x + box.width);
      t.setAttribute("y", box.y - 3);
      t.setAttribute("text-anchor", "end");
      t.setAttribute("class", "cr-badge cr-grad");
      g.appendChild(t);
      badges[n.id] = t;
    });
    setUpView();
    show(pos);
  }

  // --- pan and zoom: the viewBox is the view; text never below MIN_TEXT_PX ------------
  // A view is the point of the drawing at the box's centre (cx, cy, in the drawing's
  // units) and a scale s (CSS px per unit).
  var content = null, view = null, home = null, minScale = 0, maxScale = 4;
  function boxSize() { return { w: graphBox.clientWidth, h: graphBox.clientHeight }; }
  function setUpView() {
    var vb = svg.viewBox && svg.viewBox.baseVal;
    if (!vb || !vb.width) {
      var bb = svg.getBBox();
      vb = { x: bb.x, y: bb.y, width: bb.width, height: bb.height };
    }
    var pad = svg.querySelector("text.cr-badge") ? 18 : 4;  // room for badges above nodes
    content = { x: vb.x - pad, y: vb.y - pad, w: vb.width + 2 * pad, h: vb.height + 2 * pad };
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    // the smallest text of the drawing, in its own units: it sets the smallest scale
    var smallest = Infinity;
    svg.querySelectorAll("text").forEach(function (t) {
      var size = parseFloat(getComputedStyle(t).fontSize);
      if (size > 0 && size < smallest) smallest = size;
    });
    if (!isFinite(smallest)) smallest = 14;
    minScale = MIN_TEXT_PX / smallest;
    maxScale = Math.max(minScale, MAX_TEXT_PX / smallest);
    // the box: as tall as the drawing needs at the fitted scale, within the window
    var w = graphBox.clientWidth;
    var s = Math.max(minScale, Math.min(w / content.w, NATURAL));
    var tallest = Math.max(240, window.innerHeight * 0.75);
    graphBox.style.height = Math.round(Math.max(160, Math.min(content.h * s + 2, tallest))) + "px";
    home = fitted();
    setView(home);
  }
  function fitted() {
    var b = boxSize();
    var s = Math.min(b.w / content.w, b.h / content.h, NATURAL);
    return { cx: content.x + content.w / 2, cy: content.y + content.h / 2,
             s: Math.max(minScale, s) };
  }
  function clampCentre(c, half, start, size) {
    // a drawing larger than the view: keep the view on it; smaller: centre it
    if (size <= 2 * half) return start + size / 2;
    return Math.max(start + half, Math.min(start + size - half, c));
  }
  function setView(v) {
    var b = boxSize();
    var s = Math.max(minScale, Math.min(maxScale, v.s));
    var w = b.w / s, h = b.h / s;
    view = { cx: clampCentre(v.cx, w / 2, content.x, content.w),
             cy: clampCentre(v.cy, h / 2, content.y, content.h), s: s };
    svg.setAttribute("viewBox", [view.cx - w / 2, view.cy - h / 2, w, h].join(" "));
    document.body.dataset.zoom = String(Math.round(s * 1000) / 1000);
  }
  function zoomAt(factor, clientX, clientY) {
    if (!svg) return;
    var r = graphBox.getBoundingClientRect(), b = boxSize();
    var px = clientX === undefined ? b.w / 2 : clientX - r.left;
    var py = clientY === undefined ? b.h / 2 : clientY - r.top;
    // the drawing's point under the cursor stays under it
    var ux = view.cx + (px - b.w / 2) / view.s, uy = view.cy + (py - b.h / 2) / view.s;
    var s = Math.max(minScale, Math.min(maxScale, view.s * factor));
    setView({ cx: ux - (px - b.w / 2) / s, cy: uy - (py - b.h / 2) / s, s: s });
  }
  function panBy(dx, dy) {  // in CSS px
    if (!svg) return;
    setView({ cx: view.cx - dx / view.s, cy: view.cy - dy / view.s, s: view.s });
  }
  // fit: the whole drawing if it can be read so, else as much as can, with the
  // current step's node in view
  function fit() { if (svg) { home = fitted(); setView(home); keepInView(focusNode()); } }
  function keepInView(g) {  // the step's node in the box, without scrolling the page
    if (!g || !svg) return;
    var r = g.getBoundingClientRect(), b = graphBox.getBoundingClientRect();
    var dx = 0, dy = 0;
    if (r.left < b.left || r.right > b.right) dx = (b.left + b.width / 2) - (r.left + r.width / 2);
    if (r.top < b.top || r.bottom > b.bottom) dy = (b.top + b.height / 2) - (r.top + r.height / 2);
    if (dx || dy) panBy(dx, dy);
  }
  graphBox.addEventListener("wheel", function (ev) {
    if (!svg || !ev.deltaY) return;
    // at the zoom's limit the wheel scrolls the page as usual, so it never traps it
    var out = ev.deltaY > 0;
    if ((out && view.s <= minScale * 1.0001) || (!out && view.s >= maxScale * 0.9999)) return;
    ev.preventDefault();
    var unit = ev.deltaMode === 1 ? 16 : ev.deltaMode === 2 ? 400 : 1;
    zoomAt(Math.exp(-ev.deltaY * unit * 0.002), ev.clientX, ev.clientY);
  }, { passive: false });
  var drag = null;
  graphBox.addEventListener("pointerdown", function (ev) {
    if (!svg || ev.button !== 0) return;
    drag = { x: ev.clientX, y: ev.clientY, id: ev.pointerId };
    try { graphBox.setPointerCapture(ev.pointerId); } catch (err) { /* synthetic events */ }
    graphBox.classList.add("dragging");
  });
  graphBox.addEventListener("pointermove", function (ev) {
    if (!drag) return;
    panBy(ev.clientX - drag.x, ev.clientY - drag.y);
    drag.x = ev.clientX;
    drag.y = ev.clientY;
  });
  function endDrag() { drag = null; graphBox.classList.remove("dragging"); }
  graphBox.addEventListener("pointerup", endDrag);
  graphBox.addEventListener("pointercancel", endDrag);
  window.addEventListener("resize", function () { if (svg) setView(view); });
  document.getElementById("zoom-in").addEventListener("click", function () { zoomAt(1.25); });
  document.getElementById("zoom-out").addEventListener("click", function () { zoomAt(0.8); });
  document.getElementById("fit").addEventListener("click", fit);

  // --- the tables ------------------------------------------------------------------
  var gradBody = document.querySelector("#grads tbody");
  D.nodes.forEach(function (n, i) {
    n.key = i;
    var tr = document.createElement("tr");
    [n.name, n.data, ""].forEach(function (text) {
      var td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    });
    tr.dataset.node = n.id;
    gradBody.appendChild(tr);
    rowsById[n.key] = tr;
  });
  var stepRows = Array.prototype.slice.call(document.querySelectorAll("table.steps tbody tr"));
  stepRows.forEach(function (tr, i) {
    tr.addEventListener("click", function () { go(F + i + 1); });
  });
  var forwardRows = Array.prototype.slice.call(
    document.querySelectorAll("table.forward tbody tr"));
  forwardRows.forEach(function (tr, i) {
    tr.addEventListener("click", function () { show(i + 1); });
  });
  var current = document.querySelector("#current tbody");
  function field(name, value) {
    var tr = document.createElement("tr"), th = document.createElement("th"),
        td = document.createElement("td");
    th.textContent = name;
    td.textContent = value;
    tr.appendChild(th);
    tr.appendChild(td);
    current.appendChild(tr);
  }
  var formula = document.getElementById("formula");
  function showMath(id) {
    formula.textContent = "";
    var source = document.getElementById(id);
    if (!source) return;
    Array.prototype.forEach.call(source.childNodes, function (child) {
      formula.appendChild(child.cloneNode(true));
    });
  }

  function rowOf(n, known, reached, done, grads, cur, fcur, forward) {  // its table row
    var tr = rowsById[n.key];
    tr.children[1].textContent = known ? n.data : "";
    tr.lastChild.textContent = reached ? grads[n.key] + (done ? "" : " (so far)") : "";
    var now = cur ? cur.inputKey === n.key : !!fcur && fcur.key === n.key;
    tr.classList.toggle("changed", now);
    tr.classList.toggle("pending", forward ? !known : !reached);
  }

  // --- one position of the page: the forward step fk, or the backward step k ----------
  function focusNode() {  // the node the current step is about
    var forward = pos < F, fk = forward ? pos : nf, k = forward ? 0 : pos - F;
    if (forward) return nodeEls[fk ? D.forward[fk - 1].node : D.root];
    return nodeEls[k ? D.steps[k - 1].input : D.root];
  }
  function show(p) {
    p = Math.max(0, Math.min(total, p | 0));
    pos = p;
    var forward = p < F, fk = forward ? p : nf, k = forward ? 0 : p - F;
    var grads = {}, shorts = {}, colours = {};
    if (!forward) {  // keyed by Value (several share a drawn node in a collapsed neuron)
      grads[D.rootKey] = D.seed;
      shorts[D.rootKey] = D.seedShort;
      colours[D.rootKey] = D.seedColour;
      for (var i = 0; i < k; i++) {
        var s = D.steps[i];
        grads[s.inputKey] = s.grad;
        shorts[s.inputKey] = s.short;
        colours[s.inputKey] = s.colour;
      }
    }
    var cur = !forward && k ? D.steps[k - 1] : null;
    var fcur = forward && fk ? D.forward[fk - 1] : null;
    D.nodes.forEach(function (n) {
      var known = n.leaf || !D.hasForward || n.computed <= fk;  // its value, in the forward pass
      var reached = Object.prototype.hasOwnProperty.call(grads, n.key);
      var done = !forward && n.last <= k;
      var g = nodeEls[n.id];
      var dc = n.delta && deltaCells[n.id];
      if (dc) {
        dc.text.textContent = reached && done ? "δ " + shorts[n.key] : "δ ?";
        var dcolour = reached && done ? colours[n.key] : D.unknownColour;
        if (dc.fill && dcolour) dc.fill.setAttribute("fill", dcolour);
      }
      if (g && n.cell) {
        g.classList.toggle("cr-pending", forward ? !known : !reached);
        g.classList.toggle("cr-partial", !forward && reached && !done);
        g.classList.toggle("cr-done", done);
      }
      if (g) {
        g.classList.toggle("cr-source", cur ? cur.node === n.id :
                           !!fcur && fcur.inputs.indexOf(n.id) >= 0);
        g.classList.toggle("cr-target", cur ? cur.input === n.id : !!fcur && fcur.node === n.id);
      }
      if (!n.cell) {  // inside a collapsed neuron: only the tables show it
        rowOf(n, known, reached, done, grads, cur, fcur, forward);
        return;
      }
      if (dataCells[n.id]) dataCells[n.id].textContent = "data " + (known ? n.data : "?");
      if (badges[n.id]) {
        var isCell = !badges[n.id].classList.contains("cr-badge");
        badges[n.id].textContent = reached ? "grad " + shorts[n.key] : (isCell ? "grad ?" : "");
      }
      var colour = reached ? colours[n.key] : D.unknownColour;
      if (cellFill[n.id] && colour) cellFill[n.id].setAttribute("fill", colour);
      rowOf(n, known, reached, done, grads, cur, fcur, forward);
    });
    var hot = cur || fcur, later = {};
    if (forward) {  // the edges (and their local derivatives) of nodes not computed yet
      D.forward.slice(fk).forEach(function (f) {
        f.edges.forEach(function (id) { later[id] = true; });
        f.ops.forEach(function (id) { later[id] = true; });
      });
    }
    Object.keys(nodeEls).forEach(function (id) {
      nodeEls[id].classList.toggle("cr-op", !!hot && hot.ops.indexOf(id) >= 0);
      if (/^op/.test(id)) nodeEls[id].classList.toggle("cr-pending", !!later[id]);
    });
    Object.keys(edgeEls).forEach(function (id) {
      edgeEls[id].classList.toggle("cr-current", !!hot && hot.edges.indexOf(id) >= 0);
      edgeEls[id].classList.toggle("cr-later", !!later[id]);
    });
    stepRows.forEach(function (tr, i) { tr.classList.toggle("current", !!cur && i === k - 1); });
    forwardRows.forEach(function (tr, i) {
      tr.classList.toggle("current", !!fcur && i === fk - 1);
    });
    keepInView(focusNode());
    current.textContent = "";
    var sentence = document.getElementById("sentence");
    if (fcur) {
      sentence.textContent = "Forward step " + fk + ": " + fcur.sentence;
      showMath("math-f" + fk);
      field("node", fcur.name);
      fcur.inputNames.forEach(function (name, i) {
        field("input " + (i + 1), name);
      });
      field("computed as", fcur.text);
    } else if (forward) {
      sentence.textContent = D.forwardStart;
      showMath("");
    } else if (cur) {
      sentence.textContent = "Backward step " + k + ": " + cur.sentence;
      showMath("math-b" + k);
      field("node", cur.nodeName);
      field("input", cur.inputName + (cur.position ? " (input 2)" : " (input 1)"));
      field("upstream grad(" + cur.nodeName + ")", cur.upstream);
      field("local d(" + cur.nodeName + ")/d(" + cur.inputName + ")", cur.local);
      field("contribution", cur.product);
      field("grad(" + cur.inputName + ")", cur.sum);
    } else {
      sentence.textContent = (D.hasForward ? "Backward pass. " : "") + D.start +
        ". Press Next (or the right arrow) to pass it back one edge at a time.";
      showMath("");
    }
    document.getElementById("counter").textContent = forward ?
      "Forward step " + fk + " of " + nf : "Backward step " + k + " of " + nb;
    document.getElementById("prev").disabled = p === 0;
    document.getElementById("next").disabled = p === total;
    document.body.dataset.phase = forward ? "forward" : "backward";
    document.body.dataset.step = String(forward ? fk : k);
    try {
      history.replaceState(null, "", forward ? "#forward=" + fk : "#step=" + k);
    } catch (err) { /* file: URLs */ }
  }

  // Predict, then reveal (D.predict): a backward step is shown only after the student
  // has committed a guess of its contribution; until then the table hides its row.
  var revealed = 0, asking = 0;
  var predictBox = document.getElementById("predict");
  var guessBox = document.getElementById("guess");
  function hideUnrevealed() {
    if (!D.predict) return;
    stepRows.forEach(function (tr, i) { tr.hidden = i >= revealed; });
  }
  function ask(j) {  // ask for backward step j's contribution
    asking = j;
    var s = D.steps[j - 1];
    predictBox.hidden = false;
    document.getElementById("predict-question").textContent =
      "Predict step " + j + ": grad(" + s.inputName + ") += grad(" + s.nodeName + ") * d(" +
      s.nodeName + ")/d(" + s.inputName + "). What is this contribution?";
    document.getElementById("predict-verdict").textContent = "";
    guessBox.value = "";
    document.getElementById("next").disabled = true;
    // point at the edge the gradient is about to travel back along (no numbers)
    s.edges.forEach(function (id) { if (edgeEls[id]) edgeEls[id].classList.add("cr-current"); });
    s.ops.forEach(function (id) { if (nodeEls[id]) nodeEls[id].classList.add("cr-op"); });
    document.body.dataset.asking = String(j);
    guessBox.focus();
  }
  function go(p) {
    p = Math.max(0, Math.min(total, p | 0));
    var k = p - F;
    if (D.predict && k > revealed) {
      show(F + revealed);
      ask(revealed + 1);
      return;
    }
    show(p);
  }
  function reveal() {
    if (!asking) return;
    var text = guessBox.value.trim(), guess = Number(text), verdict = document.getElementById("predict-verdict");
    if (text === "" || !isFinite(guess)) { verdict.textContent = "Type a number first, then Reveal."; return; }
    var s = D.steps[asking - 1], right = s.value === null ? false :
      Math.abs(guess - s.value) <= D.predictTolerance * Math.max(1, Math.abs(s.value));
    revealed = Math.max(revealed, asking);
    var j = asking;
    asking = 0;
    delete document.body.dataset.asking;
    hideUnrevealed();
    show(F + j);
    predictBox.hidden = false;
    verdict.className = right ? "right" : "wrong";
    verdict.textContent = (right ? "Right: " : "Not quite: you guessed " + text + "; ") +
      "the contribution is " + s.product + ".";
    document.getElementById("predict-question").textContent = "Step " + j + " revealed. Press Next to predict the next one.";
  }
  if (D.predict) {
    document.getElementById("reveal").addEventListener("click", reveal);
    guessBox.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") { ev.preventDefault(); reveal(); }
    });
    hideUnrevealed();
  }
  document.getElementById("prev").addEventListener("click", function () { go(pos - 1); });
  document.getElementById("next").addEventListener("click", function () { go(pos + 1); });
  var toForward = document.getElementById("to-forward");
  toForward.hidden = !D.hasForward;
  toForward.addEventListener("click", function () { show(0); });
  document.getElementById("to-backward").addEventListener("click", function () { show(F); });
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.target && ev.target.tagName === "INPUT") return;  // typing a guess
    if (ev.key === "ArrowRight" || ev.key === "ArrowDown") go(pos + 1);
    else if (ev.key === "ArrowLeft" || ev.key === "ArrowUp") show(pos - 1);
    else if (ev.key === "Home") show(0);
    else if (ev.key === "End") go(total);
    else if (ev.key === "b" || ev.key === "B") show(F);
    else if (ev.key === "+" || ev.key === "=") zoomAt(1.25);
    else if (ev.key === "-" || ev.key === "_") zoomAt(0.8);
    else if (ev.key === "0") fit();
    else return;
    ev.preventDefault();
  });
  var mb = /step=(\d+)/.exec(location.hash), mf = /forward=(\d+)/.exec(location.hash);
  pos = mb ? F + parseInt(mb[1], 10) : mf ? Math.min(parseInt(mf[1], 10), nf) : 0;
  if (D.predict && pos - F > revealed) pos = F + revealed;  // no peeking through the URL
  window.chainrule = {
    show: function (k) { go(F + k); },  // backward step k (0: the seed)
    forward: function (k) { show(k); },   // forward step k (0: only the inputs known)
    position: function () { return pos; },
    step: function () { return pos < F ? pos : pos - F; },
    phase: function () { return pos < F ? "forward" : "backward"; },
    total: nb, forwardTotal: nf,
    fit: fit, zoom: zoomAt, pan: panBy,
    view: function () { return view && { cx: view.cx, cy: view.cy, s: view.s }; },
    ready: false
  };
  var drawn = document.querySelector("#graph svg");
  function controls(on) {
    document.getElementById("view-controls").hidden = !on;
  }
  if (drawn) {
    controls(true);
    attach(drawn);
    window.chainrule.ready = true;
  } else if (D.dot && window.Viz) {  // no dot where the page was written: lay it out here
    controls(false);
    show(pos);
    Viz.instance().then(function (viz) {
      var el = viz.renderSVGElement(D.dot);
      graphBox.textContent = "";
      graphBox.classList.remove("pending");
      graphBox.appendChild(el);
      controls(true);
      attach(el);
      window.chainrule.ready = true;
    }).catch(function (err) {
      graphBox.classList.remove("pending");
      graphBox.classList.add("missing");
      graphBox.textContent = "";
      var note = document.createElement("p");
      note.id = "graph-note";
      graphBox.appendChild(note);
      note.textContent =
        "The browser could not draw the graph (" + err + "). " + D.installHint +
        " The tables below have every step.";
      window.chainrule.ready = true;
    });
  } else {
    controls(false);
    show(pos);
    window.chainrule.ready = true;
  }
})();
