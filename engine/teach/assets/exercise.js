// The exercise page: checks the answers in the input boxes as Exercise.check does
// (engine/teach/exercise.py), offline. Text is written only through textContent.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("exercise-data").textContent);
  var n = D.names.length, tol = D.tolerance;
  function close(x, y) { return Math.abs(x - y) <= tol * Math.max(1, Math.abs(y)); }
  // the chain rule from the root down, using the given gradients where there are some
  function pass(given) {
    var g = new Array(n).fill(0); g[D.root] = 1;
    var done = {};
    D.edges.forEach(function (e) {
      var used = (e[0] in given) ? given[e[0]] : g[e[0]];
      g[e[1]] += used * e[2];
    });
    return g;
  }
  function used(given, g, k) { return (k in given) ? given[k] : g[k]; }
  function above(k) {  // every node on the paths from k to the root
    var seen = {}, todo = [k];
    while (todo.length) {
      var x = todo.pop();
      D.edges.forEach(function (e) { if (e[1] === x && !seen[e[0]]) { seen[e[0]] = true; todo.push(e[0]); } });
    }
    return seen;
  }
  function diagnose(k, value, given) {
    var g = pass(given), name = D.names[k];
    var parts = D.edges.filter(function (e) { return e[1] === k; });
    var through = parts.map(function (e) { return D.names[e[0]]; });
    if (new Set(through).size < through.length) through = parts.map(function (e) { return D.names[e[0]] + " (input " + (e[3] + 1) + ")"; });
    var contrib = parts.map(function (e) { return used(given, g, e[0]) * e[2]; });
    var total = contrib.reduce(function (a, b) { return a + b; }, 0), m = parts.length;
    if (k === D.root) return "the gradient of the output with respect to itself is d" + name + "/d" + name;
    if (m === 0) return "grad(" + name + ") gets nothing from any node above it: it does not feed the output";
    var rule = m > 1 ? "grad(" + name + ") is the sum of " + m + " contributions grad(node) * d(node)/d(" + name + "), one per edge out of " + name + " (into " + through.join(", ") + ")"
      : "grad(" + name + ") = grad(" + through[0] + ") * d(" + through[0] + ")/d(" + name + ")";
    if (m > 1 && m <= D.maxSubset) {
      for (var size = 1; size < m; size++) {
        for (var mask = 1; mask < (1 << m); mask++) {
          var bits = [], s = 0;
          for (var b = 0; b < m; b++) if (mask & (1 << b)) { bits.push(b); s += contrib[b]; }
          if (bits.length !== size) continue;
          if (close(value, s) && !close(value, total)) {
            var left = m - size;
            return "grad(" + name + ") collects from " + m + " paths (" +
              through.map(function (t) { return "through " + t; }).join(" and ") + "); your value matches the one through " +
              bits.map(function (x) { return through[x]; }).join(" and ") + " only: add the other path" +
              (left > 1 ? "s' contributions" : "'s contribution");
          }
        }
      }
    }
    if (total !== 0 && close(value, -total)) return "your value has the right size but the wrong sign: " + rule + "; check the sign of each local derivative";
    for (var j = 0; j < m; j++) {
      var u = through[j], up = used(given, g, parts[j][0]), local = parts[j][2];
      if (contrib[j] !== 0 && close(value, total - 2 * contrib[j])) return "the contribution through " + u + " has the wrong sign: check d(" + u + ")/d(" + name + ")";
      if (local !== 1 && close(value, total - contrib[j] + up)) return "through " + u + " you used grad(" + u + ") without multiplying by the local derivative d(" + u + ")/d(" + name + ")";
      if (up !== 1 && close(value, total - contrib[j] + local)) return "through " + u + " you used d(" + u + ")/d(" + name + ") without multiplying by the upstream gradient grad(" + u + ")";
    }
    return rule + "; recompute each factor";
  }
  function check() {
    var given = {}, bad = [];
    D.ask.forEach(function (k, i) {
      var box = document.getElementById("ans-" + i), text = box.value.trim();
      box.classList.remove("right", "wrong");
      if (text === "") return;
      var v = Number(text);
      if (!isFinite(v)) bad.push(D.names[k]); else given[k] = v;
    });
    var expected = pass(given), right = 0, first = null, lines = [], missing = [];
    D.ask.forEach(function (k, i) {
      var box = document.getElementById("ans-" + i), verdict = document.getElementById("verdict-" + i);
      verdict.className = "verdict"; verdict.textContent = "";
      if (!(k in given)) { missing.push(D.names[k]); return; }
      var v = given[k];
      if (close(v, D.solution[k])) { right++; box.classList.add("right"); verdict.classList.add("right"); verdict.textContent = "right"; return; }
      box.classList.add("wrong"); verdict.classList.add("wrong");
      var up = above(k), wrongAbove = D.ask.filter(function (a) { return up[a] && (a in given) && !close(given[a], D.solution[a]); })
        .map(function (a) { return D.names[a]; });
      if (wrongAbove.length && close(v, expected[k])) {
        verdict.textContent = "follows from your grad(" + wrongAbove.join(", ") + ")";
        lines.push("grad(" + D.names[k] + "): your chain rule step is right, but it uses your grad(" + wrongAbove.join(", ") + "), which is wrong: fix that first");
        return;
      }
      var hint = diagnose(k, v, given);
      verdict.textContent = "wrong";
      if (first === null) first = D.names[k];
      lines.push("grad(" + D.names[k] + "): " + hint);
    });
    var said = right + " of " + D.ask.length + " right";
    if (right === D.ask.length) said += ": all right.";
    else {
      if (first !== null) said += "; first mistake: grad(" + first + ")";
      if (missing.length) said += "; not answered: " + missing.join(", ");
      if (bad.length) said += "; not a number: " + bad.join(", ");
    }
    document.getElementById("feedback").textContent = [said].concat(lines).join("\n");
  }
  document.getElementById("answers").addEventListener("submit", function (ev) { ev.preventDefault(); check(); });
  window.chainruleCheck = check;
})();
