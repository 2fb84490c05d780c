"""Run the benchmark suite and write ``bench/results/latest.md`` (``make bench``).

One process runs every workload on every engine side by side, with seeded data
and the same starting weights, the garbage collector on (what users have) and
off, several repeats (median and min-max), and ratios to micrograd:

* W1: micrograd's demo training step (two moons, MLP 2-16-16-1, SVM loss + L2,
  SGD), at 100 and 1,000 points; the first losses of all engines must agree.
* W2: the chain x -> x * 1.0001 + 0.0001, N steps, then backward, N = 10^3..10^6.
* W3: a random graph of +, *, tanh, exp (50k..400k nodes), forward + backward.
* W4: memory of a live W3 graph, bytes per node (tracemalloc; RSS for PyTorch).
* W5: a 64-32-10 MLP trained on scikit-learn's digits with ``fit(compiled=True)``.

Usage: ``python bench/run.py [--quick] [--only W1,W3] [--out FILE]``. A full run
writes ``bench/results/python-X.Y.md`` for the Python it runs on (``make bench``
runs it on every installed version; the README quotes 3.11 and 3.13); a quick one
``quick-python-X.Y.md``, a partial one (``--only``, ``--repeats``)
``partial-python-X.Y.md``, unless ``--out`` says otherwise. Timings on a shared
machine are noisy: compare engines within one run, not across runs or versions.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import statistics
import sys
import time
import tracemalloc
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import workloads as W  # noqa: E402

ENGINES = ["chainrule", "chainrule, gc_paused", "micrograd", "torch-scalar", "torch-batched",
           "chainrule-tape", "tape, unfused", "bare node"]


# --- timing -----------------------------------------------------------------------


class Timing:
    """Seconds of repeated runs of one callable: median and range."""

    def __init__(self, seconds: list[float], per: float = 1.0) -> None:
        self.seconds = [s / per for s in seconds]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def __repr__(self) -> str:
        return f"Timing(median={self.median:.3g}, n={len(self.seconds)})"


def _seconds(run, collector: bool) -> float:
    """One timed call of ``run()``, after a full collection, the collector on or off."""
    gc.collect()
    if not collector:
        gc.disable()
    try:
        start = time.perf_counter()
        run()
        return time.perf_counter() - start
    finally:
        gc.enable()


def timed(run, repeats: int, collector: bool, per: float = 1.0, budget: float = 60.0) -> Timing:
    """Time ``run()`` ``repeats`` times (fewer once the runs exceed ``budget`` seconds)."""
    return timed_side_by_side({"run": run}, repeats, collector, per, budget)["run"]


def timed_side_by_side(runs: dict, repeats: int, collector: bool, per: float = 1.0,
                       budget: float = 60.0) -> dict[str, Timing]:
    """Time several engines' runs in turn, repeat after repeat.

    Interleaving (A, B, C, A, B, C, ...) rather than (A, A, A, B, B, B, ...)
    spreads the load of a shared machine over every engine alike, so the
    ratios are fairer than the absolute times. An engine whose runs exceed
    ``budget`` seconds in total stops early (fewer repeats).
    """
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            done = seconds[name]
            if done and sum(done) > budget:
                continue
            # A run shorter than a scheduler's time slice is timed 10 times a round:
            # on a loaded machine one preemption (10-50 ms) would otherwise be the median.
            for _ in range(10 if done and done[-1] < FAST else 1):
                done.append(_seconds(run, collector))
    return {name: Timing(s, per) for name, s in seconds.items()}


FAST = 0.02  # seconds


def _fmt(t: Timing | str | None, unit: str) -> str:
    """``median (min-max)`` in the unit: "ms" (per step) or "us" (per node)."""
    if t is None:
        return "-"
    if isinstance(t, str):
        return t
    scale = {"ms": 1e3, "us": 1e6, "s": 1.0}[unit]
    med, lo, hi = t.median * scale, min(t.seconds) * scale, max(t.seconds) * scale
    digits = 3 if med < 10 else 1 if med < 1000 else 0
    if len(t.seconds) == 1:
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"



def _timed_row(label: str, results: dict, n: int, k: int, unit: str) -> list[str]:
    """One table row: each engine's time at size ``n`` (``k``: 0 collector on, 1 off),
    with its ratio to micrograd's where both were measured."""
    base = results.get((n, "micrograd"), (None, None))[k]
    row = [label]
    for engine in ENGINES:
        t = results.get((n, engine), (None, None))[k]
        ratio = _ratio(base, t)
        row.append(_fmt(t, unit) + ("" if ratio == "-" or engine == "micrograd"
                                    else f", {ratio}"))
    return row

def _ratio(base: Timing | str | None, t: Timing | str | None) -> str:
    if not isinstance(base, Timing) or not isinstance(t, Timing):
        return "-"
    return f"{base.median / t.median:.1f}x"


# --- the machine ----------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {}
    for name in ("engine", "micrograd", "torch", "numpy", "sklearn"):
        try:
            module = __import__(name)
            versions[name] = getattr(module, "__version__", "?")
        except ImportError:
            versions[name] = "not installed"
    try:
        from importlib.metadata import version
        versions["micrograd"] = version("micrograd")
    except Exception:  # noqa: BLE001 - only for the report
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "load": f"{load:.2f}",
        "python": platform.python_version(),
        "versions": ", ".join(f"{k if k != 'engine' else 'chainrule'} {v}"
                              for k, v in versions.items()),
    }


def available(engine: str) -> bool:
    module = {"micrograd": "micrograd", "torch-scalar": "torch", "torch-batched": "torch",
              "chainrule-tape": "numpy", "tape, unfused": "numpy"}.get(engine)
    if module is None:
        return True
    try:
        __import__(module)
        return True
    except ImportError:
        return False


# --- workloads ---------------------------------------------------------------------


def bench_w1(points: list[int], repeats: int, report, slow_limit: int) -> dict:
    weights = W.micrograd_weights([2, 16, 16, 1])
    results = {}
    for n in points:
        X, y = W.two_moons(n)
        firsts, steps = {}, {}
        for engine in ENGINES:
            if engine not in W.W1 or not available(engine):
                continue
            if n > slow_limit and engine in ("micrograd", "torch-scalar",
                                             "chainrule, gc_paused"):
                results[(n, engine)] = ("skipped (--quick)", "skipped (--quick)")
                continue
            step = W.W1[engine](X, y, weights)
            try:
                firsts[engine] = step()  # the first loss, from the shared start
            except RecursionError:  # micrograd's recursive topological sort
                results[(n, engine)] = ("RecursionError", "RecursionError")
                report(f"W1 {n} points {engine}: RecursionError")
                continue
            steps[engine] = step
        on = timed_side_by_side(steps, repeats, True)
        off = timed_side_by_side(steps, repeats, False)
        for engine in steps:
            results[(n, engine)] = (on[engine], off[engine])
            report(f"W1 {n} points {engine}: first loss {firsts[engine]!r}, "
                   f"{_fmt(on[engine], 'ms')} ms/step (collector off {_fmt(off[engine], 'ms')})")
        ref = firsts.get("micrograd", firsts["chainrule"])
        worst = max(abs(v - ref) / abs(ref) for v in firsts.values())
        results[(n, "first")] = (firsts, worst)
        if worst > 1e-9:
            report(f"WARNING: W1 first losses disagree (relative {worst:.2g}): {firsts}")
    return results


def bench_w2(sizes: list[int], repeats: int, report, torch_limit: int) -> dict:
    results = {}
    for n in sizes:
        for engine in ("chainrule", "micrograd", "torch-scalar"):
            if not available(engine):
                continue
            if engine == "torch-scalar" and n > torch_limit:
                results[(n, engine)] = ("skipped (--quick)", "skipped (--quick)")
                continue
            run = W.W2[engine](n)
            try:
                grad = run()
            except RecursionError:
                results[(n, engine)] = ("RecursionError", "RecursionError")
                report(f"W2 N={n} {engine}: RecursionError")
                continue
            if not math.isclose(grad, W.w2_expected(n), rel_tol=1e-9):
                report(f"WARNING: W2 N={n} {engine} gradient {grad} != {W.w2_expected(n)}")
            reps = repeats if n <= 100_000 else max(1, repeats // 2)
            on = timed(run, reps, True, per=2 * n)
            off = timed(run, reps, False, per=2 * n)
            results[(n, engine)] = (on, off)
            report(f"W2 N={n} {engine}: {_fmt(on, 'us')} us/node (off {_fmt(off, 'us')})")
    return results


def bench_w3(sizes: list[int], repeats: int, report) -> dict:
    results = {}
    for n in sizes:
        program = W.w3_program(n)
        count = program[2]
        answers, runs = {}, {}
        for engine in ("chainrule", "micrograd", "torch-scalar", "torch-batched", "bare node"):
            if available(engine):
                runs[engine] = W.W3[engine](program)[0]
                answers[engine] = runs[engine]()
        on = timed_side_by_side(runs, repeats, True, per=count)
        off = timed_side_by_side(runs, repeats, False, per=count)
        for engine in runs:
            results[(n, engine)] = (on[engine], off[engine])
            report(f"W3 {count} nodes {engine}: {_fmt(on[engine], 'us')} us/node "
                   f"(off {_fmt(off[engine], 'us')})")
        root = answers["chainrule"][0]
        for engine, (value, _) in answers.items():
            if not math.isclose(value, root, rel_tol=1e-9):
                report(f"WARNING: W3 {engine} root {value} != chainrule's {root}")
        results[(n, "count")] = count
    return results


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def w4_bytes_per_node(engine: str, n: int) -> tuple[float, str]:
    """Bytes per node of a live W3 graph (built, not yet differentiated), in this process."""
    program = W.w3_program(n)
    count = program[2]
    _, build = W.W3[engine](program)
    W.W3[engine](W.w3_program(2 * W.WIDTH + W.WIDTH))[1]()  # imports, caches
    gc.collect()
    if engine == "torch-scalar":  # its nodes live in C++: tracemalloc cannot see them
        before = _rss()
        graph = build()
        return (_rss() - before) / count, "RSS"
    tracemalloc.start()
    graph = build()
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del graph
    return size / count, "tracemalloc"


def bench_w4(n: int, report) -> dict:
    """W4 for each engine, each in a fresh process (so no allocator reuses freed memory)."""
    import subprocess

    results = {}
    for engine in ("chainrule", "micrograd", "torch-scalar"):
        if not available(engine):
            continue
        out = subprocess.run([sys.executable, __file__, "--w4", engine, "--w4-nodes", str(n)],
                             capture_output=True, text=True, check=True).stdout.split()
        results[engine] = (float(out[0]), out[1])
        report(f"W4 {engine}: {results[engine][0]:.0f} bytes/node ({results[engine][1]})")
    return results


W5_BATCH = 32  # batches of 32, Adam lr 0.01, 15 epochs (bench/NOTES.md: how they were chosen)
W5_EPOCHS = 15


def bench_w5(report, epochs: int) -> dict | None:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        report("W5 skipped: scikit-learn is not installed (pip install 'chainrule[bench]')")
        return None
    import nn

    digits = load_digits()
    y = digits.target.tolist()
    rng = __import__("random").Random(0)
    order = list(range(len(y)))
    rng.shuffle(order)
    cut = int(0.8 * len(y))
    train, test = order[:cut], order[cut:]
    # Each pixel standardised with the training images' mean and spread (+1, so the
    # always-blank border pixels stay 0 and nearly constant ones are not blown up).
    mean = digits.data[train].mean(axis=0)
    spread = digits.data[train].std(axis=0) + 1.0
    X = ((digits.data - mean) / spread).tolist()
    model = nn.MLP(64, [32, 10], activation="tanh", seed=0)
    optimizer = nn.Adam(model.parameters(), lr=0.01)
    start = time.perf_counter()
    nn.fit(model, [X[i] for i in train], [y[i] for i in train], loss="cross_entropy",
           optimizer=optimizer, epochs=epochs, batch_size=W5_BATCH, seed=0, progress=False,
           compiled=True)
    seconds = time.perf_counter() - start
    from nn.compiled import record

    tape = record(model, 64)
    scores = tape.forward([X[i] for i in test])
    accuracy = sum(int(s.argmax() == y[i]) for s, i in zip(scores, test)) / len(test)
    report(f"W5 digits: {epochs} epochs in {seconds:.1f} s, test accuracy {accuracy:.3f}")
    return {"seconds": seconds, "accuracy": accuracy, "epochs": epochs,
            "train": len(train), "test": len(test)}


# --- the report ----------------------------------------------------------------------


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(info: dict, quick: bool, w1: dict, w2: dict, w3: dict, w4: dict,
             w5: dict | None) -> str:
    out = [
        "# chainrule benchmarks",
        "",
        f"{info['date']}; {info['cpu']}, {info['cores']} cores (load average "
        f"{info['load']} at the start: the machine is shared, so compare engines "
        f"within this run); Python {info['python']}; {info['versions']}.",
        f"Mode: {'quick' if quick else 'full'}. Medians (min-max) over the repeats; "
        "\"x\" = how many times faster than micrograd (median against median). "
        "PyTorch in float64 on one thread.",
        "",
    ]
    for collector in (True, False):
        k = 0 if collector else 1
        out.append(f"## Collector {'on (as users have it)' if collector else 'off'}")
        out.append("")
        rows = []
        points = sorted({n for (n, e) in w1 if e != "first"})
        for n in points:
            rows.append(_timed_row(f"W1 step, {n} points (ms)", w1, n, k, "ms"))
        for n in sorted({n for (n, e) in w3 if e != "count"}):
            label = f"W3 {w3[(n, 'count')] // 1000}k-node graph (us/node)"
            rows.append(_timed_row(label, w3, n, k, "us"))
        for n in sorted({n for (n, e) in w2}):
            row = [f"W2 chain, N = {n:,} (us/node)"]
            for engine in ENGINES:
                row.append(_fmt(w2.get((n, engine), (None, None))[k], "us"))
            rows.append(row)
        out.append(table(["workload"] + ENGINES, rows))
        out.append("")
    pairs = [(n, w1.get((n, "chainrule-tape"), (None, None)), w1.get((n, "torch-batched"),
                                                                        (None, None)))
             for n in sorted({n for (n, e) in w1 if e != "first"})]
    compared = [f"{n} points: {_ratio(torch[0], tape[0])} on, {_ratio(torch[1], tape[1])} off"
                for n, tape, torch in pairs if _ratio(torch[0], tape[0]) != "-"]
    if compared:
        out.append("W1, the compiled tape against batched PyTorch (times faster, median "
                   "against median; below 1.0x PyTorch is faster): " + "; ".join(compared)
                   + ".")
        out.append("")
    if w1:
        out.append("W1 first losses (same data, same starting weights): " + "; ".join(
            f"{n} points: " + ", ".join(f"{e} {v!r}" for e, v in firsts.items())
            + f" (largest relative difference {worst:.1e})"
            for (n, e), (firsts, worst) in w1.items() if e == "first"))
        out.append("")
    if w4:
        out.append("## W4: memory of a live graph (W3, before backward)")
        out.append("")
        out.append(table(["engine", "bytes/node", "measured with"],
                         [[e, f"{b:.0f}", how] for e, (b, how) in w4.items()]))
        out.append("")
    if w5:
        out.append(f"## W5: digits (standardised), MLP 64-32-10 (tanh), Adam lr 0.01, "
                   f"batches of {W5_BATCH}, fit(compiled=True)")
        out.append("")
        out.append(f"{w5['epochs']} epochs on {w5['train']} images in "
                   f"{w5['seconds']:.1f} s; test accuracy {w5['accuracy']:.3f} on "
                   f"{w5['test']} held-out images.")
        out.append("")
    out.append("W2 counts two op nodes per step; W3 counts every node (leaves included). "
               "micrograd 0.1.0 has no tanh/exp: W3 adds them in its closure style. "
               "chainrule-tape is the compiled tape (engine/tape.py, what "
               "fit(compiled=True) runs, each layer one matrix product); \"tape, unfused\" "
               "the same tape replayed node by node (fuse=False); \"chainrule, gc_paused\" "
               "the plain W1 step inside engine.gc_paused(). \"bare node\" (W3 only) is the least a node can be "
               "in CPython (bench/workloads.py: BareNode), the lower bound. See bench/NOTES.md.")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="chainrule vs micrograd vs PyTorch")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, 3 repeats")
    parser.add_argument("--only", default="W1,W2,W3,W4,W5", help="e.g. W1,W3")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--w4", help=argparse.SUPPRESS)  # one W4 measurement, in a subprocess
    parser.add_argument("--w4-nodes", type=int, default=100_000, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None,
                        help="the report file (default: results/python-X.Y.md for a full "
                             "run, results/quick-python-X.Y.md with --quick, "
                             "results/partial-python-X.Y.md with --only or --repeats)")
    args = parser.parse_args(argv)
    if args.out is None:  # a quick or partial run never overwrites the full results
        version = "python-{}.{}.md".format(*sys.version_info[:2])
        partial = args.only != parser.get_default("only") or args.repeats
        kind = "partial-" if partial else "quick-" if args.quick else ""
        args.out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                kind + version)
    if args.w4:
        print(*w4_bytes_per_node(args.w4, args.w4_nodes))
        return 0
    only = {w.strip().upper() for w in args.only.split(",")}
    repeats = args.repeats or (3 if args.quick else 5)

    def report(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    info = machine()
    report(f"{info['date']} {info['cpu']} x{info['cores']}, load {info['load']}")
    w1 = w2 = w3 = w4 = {}
    w5 = None
    if "W1" in only:
        w1 = bench_w1([100, 1000], repeats, report, slow_limit=100 if args.quick else 10**9)
    if "W2" in only:
        sizes = [10**3, 10**4, 10**5] + ([] if args.quick else [10**6])
        w2 = bench_w2(sizes, repeats, report, torch_limit=10**4 if args.quick else 10**6)
    if "W3" in only:
        sizes = [50_000, 200_000] if args.quick else [50_000, 100_000, 200_000, 400_000]
        w3 = bench_w3(sizes, repeats, report)
    if "W4" in only:
        w4 = bench_w4(100_000, report)
    if "W5" in only and available("chainrule-tape"):
        w5 = bench_w5(report, epochs=W5_EPOCHS)
    text = markdown(info, args.quick, w1, w2, w3, w4, w5)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
