(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("chainrule-data").textContent);
  var SVGNS = "http://www.w3.org/2000/svg";
  // shrink a drawing to fit its box at first only if it stays at least this large
  var FIT_AT_LEAST = 0.5;
  var svg = document.querySelector("#graph svg");
  var nodeEls = {}, badges = {}, cellFill = {}, edgeEls = {}, rowsById = {};
  if (svg) {
    svg.querySelectorAll("g.node").forEach(function (g) {
      var t = g.querySelector("title");
      if (t) nodeEls[t.textContent.trim()] = g;
    });
    svg.querySelectorAll("g.edge").forEach(function (e) { if (e.id) edgeEls[e.id] = e; });
    D.nodes.forEach(function (n) {
      var g = nodeEls[n.id];
      if (!g) return;
      // the drawer's own gradient cell ("grad ?") if it has one, else a badge above the node
      var cell = Array.prototype.filter.call(g.querySelectorAll("text"), function (t) {
        return /^grad\b/.test(t.textContent.trim());
      })[0];
      if (cell) {
        cell.classList.add("cr-grad");
        badges[n.id] = cell;
        // the cell's background: the nearest filled polygon drawn before its text
        for (var el = cell.previousElementSibling; el; el = el.previousElementSibling) {
          var fill = el.tagName === "polygon" && el.getAttribute("fill");
          if (fill && fill !== "none" && fill !== "transparent") { cellFill[n.id] = el; break; }
        }
        return;
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
    // room for the badges above the topmost nodes: widen the drawing by a margin
    var vb = svg.viewBox && svg.viewBox.baseVal, pad = 18;
    if (vb && vb.width && svg.querySelector("text.cr-badge")) {
      var w = parseFloat(svg.getAttribute("width")) || vb.width;
      var h = parseFloat(svg.getAttribute("height")) || vb.height;
      svg.setAttribute("viewBox", [vb.x - pad, vb.y - pad, vb.width + 2 * pad,
                                   vb.height + 2 * pad].join(" "));
      svg.setAttribute("width", (w * (vb.width + 2 * pad) / vb.width) + "pt");
      svg.setAttribute("height", (h * (vb.height + 2 * pad) / vb.height) + "pt");
    }
  }
  // the gradients table: one row per node, filled by show()
  var gradBody = document.querySelector("#grads tbody");
  D.nodes.forEach(function (n) {
    var tr = document.createElement("tr");
    [n.name, n.data, ""].forEach(function (text) {
      var td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    });
    tr.dataset.node = n.id;
    gradBody.appendChild(tr);
    rowsById[n.id] = tr;
  });
  var stepRows = Array.prototype.slice.call(document.querySelectorAll("table.steps tbody tr"));
  stepRows.forEach(function (tr, i) {
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
  var step = 0, total = D.steps.length;

  function show(k) {
    k = Math.max(0, Math.min(total, k | 0));
    step = k;
    var grads = {}, shorts = {}, colours = {};
    grads[D.root] = D.seed;
    shorts[D.root] = D.seedShort;
    colours[D.root] = D.seedColour;
    for (var i = 0; i < k; i++) {
      var s = D.steps[i];
      grads[s.input] = s.grad;
      shorts[s.input] = s.short;
      colours[s.input] = s.colour;
    }
    var cur = k ? D.steps[k - 1] : null;
    D.nodes.forEach(function (n) {
      var reached = Object.prototype.hasOwnProperty.call(grads, n.id);
      var done = n.last <= k;
      var g = nodeEls[n.id];
      if (g) {
        g.classList.toggle("cr-pending", !reached);
        g.classList.toggle("cr-partial", reached && !done);
        g.classList.toggle("cr-done", done);
        g.classList.toggle("cr-source", !!cur && cur.node === n.id);
        g.classList.toggle("cr-target", !!cur && cur.input === n.id);
      }
      if (badges[n.id]) {
        var isCell = !badges[n.id].classList.contains("cr-badge");
        badges[n.id].textContent = reached ? "grad " + shorts[n.id] : (isCell ? "grad ?" : "");
      }
      var colour = reached ? colours[n.id] : D.unknownColour;
      if (cellFill[n.id] && colour) cellFill[n.id].setAttribute("fill", colour);
      var tr = rowsById[n.id];
      tr.lastChild.textContent = reached ? grads[n.id] + (done ? "" : " (so far)") : "";
      tr.classList.toggle("changed", !!cur && cur.input === n.id);
      tr.classList.toggle("pending", !reached);
    });
    Object.keys(nodeEls).forEach(function (id) {
      nodeEls[id].classList.toggle("cr-op", !!cur && cur.ops.indexOf(id) >= 0);
    });
    Object.keys(edgeEls).forEach(function (id) {
      edgeEls[id].classList.toggle("cr-current", !!cur && cur.edges.indexOf(id) >= 0);
    });
    stepRows.forEach(function (tr, i) { tr.classList.toggle("current", i === k - 1); });
    var focus = nodeEls[cur ? cur.input : D.root], box = document.getElementById("graph");
    if (focus && box) {  // keep the step's input in view, without scrolling the page
      var r = focus.getBoundingClientRect(), b = box.getBoundingClientRect();
      if (r.left < b.left || r.right > b.right)
        box.scrollLeft += r.left - b.left - (b.width - r.width) / 2;
      if (r.top < b.top || r.bottom > b.bottom)
        box.scrollTop += r.top - b.top - (b.height - r.height) / 2;
    }
    current.textContent = "";
    var sentence = document.getElementById("sentence");
    if (cur) {
      sentence.textContent = "Step " + k + ": " + cur.sentence;
      field("node", cur.nodeName);
      field("input", cur.inputName + (cur.position ? " (input 2)" : " (input 1)"));
      field("upstream grad(" + cur.nodeName + ")", cur.upstream);
      field("local d(" + cur.nodeName + ")/d(" + cur.inputName + ")",
            cur.formula === cur.local ? cur.local : cur.formula + " = " + cur.local);
      field("contribution", cur.product);
      field("grad(" + cur.inputName + ")", cur.sum);
    } else {
      sentence.textContent = D.start + ". Press Next (or the right arrow) to pass it back " +
        "one edge at a time.";
    }
    document.getElementById("counter").textContent = "Step " + k + " of " + total;
    document.getElementById("prev").disabled = k === 0;
    document.getElementById("next").disabled = k === total;
    document.body.dataset.step = String(k);
    try { history.replaceState(null, "", "#step=" + k); } catch (err) { /* file: URLs */ }
  }

  var fit = document.getElementById("fit"), graphBox = document.getElementById("graph");
  if (!svg) fit.hidden = true;
  fit.addEventListener("click", function () {
    var on = graphBox.classList.toggle("fit");
    fit.textContent = on ? "Full size" : "Fit graph";
  });
  if (svg) {  // a drawing a little too wide starts shrunk to fit; a big one at full size
    var wide = svg.getBoundingClientRect().width, room = graphBox.clientWidth;
    if (wide > room && room / wide >= FIT_AT_LEAST) {
      graphBox.classList.add("fit");
      fit.textContent = "Full size";
    }
  }
  document.getElementById("prev").addEventListener("click", function () { show(step - 1); });
  document.getElementById("next").addEventListener("click", function () { show(step + 1); });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "ArrowRight" || ev.key === "ArrowDown") show(step + 1);
    else if (ev.key === "ArrowLeft" || ev.key === "ArrowUp") show(step - 1);
    else if (ev.key === "Home") show(0);
    else if (ev.key === "End") show(total);
    else return;
    ev.preventDefault();
  });
  var m = /step=(\d+)/.exec(location.hash);
  show(m ? parseInt(m[1], 10) : 0);
  window.chainrule = { show: show, step: function () { return step; }, total: total };
})();
