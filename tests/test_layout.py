"""The package layout stays walkable: no import cycles, small modules, tests mirror the package.

The import graph is built from the source with ast, so imports inside functions (the lazy
imports that used to hide cycles) count exactly like module-level ones.
"""
from __future__ import annotations

import ast
import re
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("liveai", "latency_bench")


def _modules() -> dict[str, Path]:
    """Every module of the packages under test, by dotted name (a package is its __init__)."""
    found: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _resolve(module: str, level: int, importer: str, is_pkg: bool) -> str:
    """The absolute name of a (possibly relative) `from` import."""
    if level == 0:
        return module
    base = importer.split(".")
    if not is_pkg:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def import_graph() -> dict[str, set[str]]:
    """Module -> the in-project modules it imports anywhere in its body."""
    mods = _modules()
    graph: dict[str, set[str]] = {name: set() for name in mods}
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(node.module or "", node.level, name, is_pkg)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in mods else base)
            for t in targets:
                # `import a.b.c` runs a.b.c; find the deepest in-project module named
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != name:
                    graph[name].add(t)
                # importing a.b.c first runs the __init__ of a and a.b: an edge to each package
                # the importer is not itself inside
                parts = t.split(".")
                for i in range(1, len(parts)):
                    pkg = ".".join(parts[:i])
                    if pkg in mods and pkg != name and not (name + ".").startswith(pkg + "."):
                        graph[name].add(pkg)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_graph_sees_lazy_imports() -> None:
    """The graph is not vacuous: it knows the CLI reaches the engine, and function-level imports."""
    graph = import_graph()
    assert len(graph) > 40
    assert sum(len(v) for v in graph.values()) > 60
    src = "def f():\n    from liveai import vocab\n"
    tree = ast.parse(src)
    assert any(isinstance(n, ast.ImportFrom) for n in ast.walk(tree))


def test_no_import_cycles() -> None:
    cycles = find_cycles(import_graph())
    assert cycles == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_cycle_finder_finds_a_cycle() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


MAX_LINES = 400
MARKER = "cohesive"  # a long module says why it is one thing, with this word, in its docstring


def long_modules_without_a_reason(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES,
                                  limit: int = MAX_LINES) -> list[str]:
    """Modules over `limit` lines whose module docstring does not say why they are one cohesive thing."""
    bad = []
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            text = path.read_text()
            if text.count("\n") + (not text.endswith("\n") and bool(text)) <= limit:
                continue
            doc = ast.get_docstring(ast.parse(text)) or ""
            if MARKER not in doc.lower():
                bad.append(f"{path.relative_to(root)} ({text.count(chr(10))} lines)")
    return bad


def test_no_long_module_without_saying_why() -> None:
    """Issue 11: no module over about 400 lines unless it is one cohesive thing, said in its docstring."""
    bad = long_modules_without_a_reason()
    assert bad == [], ("split these, or say in the module docstring why each is one cohesive thing: "
                       + ", ".join(bad))


def test_long_module_check_catches_one(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    body = "x = 1\n" * (MAX_LINES + 1)
    (pkg / "long.py").write_text('"""Many things."""\n' + body)
    (pkg / "justified.py").write_text('"""One cohesive thing: a table."""\n' + body)
    (pkg / "short.py").write_text('"""Short."""\n' + "x = 1\n" * (MAX_LINES - 1))
    assert long_modules_without_a_reason(tmp_path, ("pkg",)) == [f"pkg{os.sep}long.py ({MAX_LINES + 2} lines)"]


# The layers, top first: each folder (or top-level module) may import only those below it. The
# README's "Layout" section lists the same order (test_readme_layout_is_the_tested_order).
LAYERS: tuple[str, ...] = (
    "__main__", "cli",         # the entry point: flags
    "train", "evaluation",     # building models (which measures them), measuring the band
    "corpus",                  # the songs read by both
    "app",                     # wiring a run: the Session, real-time and simulated runs, clock sources, box
    "box",                     # the headless box: service unit, hot-plug, persistence, recordings
    "control",                 # the OSC address table, remote control, OSCQuery, the config
    "view",                    # what the player sees: live view, piano roll, chord names
    "engine",                  # life cycle, listening, planning, rendering, the unsent steps
    "singing",                 # singing as the player's input: audio, pitch trackers, segmenter
    "io",                      # MIDI and OSC ports, the scheduler, sender, recorder, takes, FluidSynth
    "band",                    # band styles and the style renderer
    "generators",              # what plays: rules and model accompanists
    "neural",                  # the ONNX runtimes
    "harmony",                 # chords, the chord planner, voicing
    "timing",                  # clocks, transport, tempo following, MIDI clock, Link, thread priorities
    "music",                   # pure musical logic on note lists: notes, the grid, theory, tunes
    "vocab", "liveai",         # the shared vocabulary; the package itself (its version)
)
# Imports that run up the order on purpose, each with its reason. None are needed today.
ALLOWED_UP: dict[tuple[str, str], str] = {}


def layer_of(module: str) -> str | None:
    """The layer a liveai module belongs to (its folder, or its own name at the top level)."""
    parts = module.split(".")
    if parts[0] != "liveai":
        return None  # latency_bench sits above the package and may import any of it
    return parts[1] if len(parts) > 1 else "liveai"


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import from a layer to one above it (or to a layer the order does not name)."""
    rank = {name: i for i, name in enumerate(LAYERS)}
    bad = []
    for a, targets in sorted(graph.items()):
        la = layer_of(a)
        if la is None:
            continue
        for b in sorted(targets):
            lb = layer_of(b)
            if lb is None:
                bad.append(f"{a} -> {b} (the package imports the benchmark)")
            elif la not in rank or lb not in rank:
                bad.append(f"{a} -> {b} (layer {la if la not in rank else lb} is not in LAYERS)")
            elif la != lb and rank[lb] < rank[la] and (la, lb) not in ALLOWED_UP:
                bad.append(f"{a} -> {b} ({lb} is above {la})")
    return bad


def test_no_import_runs_up_the_layers() -> None:
    """Issue 26: data flows one way; lazy imports (inside functions) count like the others."""
    bad = upward_imports(import_graph())
    assert bad == [], "imports up the layer order:\n  " + "\n  ".join(bad)


def test_layer_check_catches_an_upward_lazy_import() -> None:
    src = "def f():\n    from liveai.engine import core\n"
    graph = {"liveai.music.x": set(), "liveai.engine.core": set()}
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.ImportFrom):
            graph["liveai.music.x"].add(f"{node.module}.{node.names[0].name}")
    assert upward_imports(graph) == ["liveai.music.x -> liveai.engine.core (engine is above music)"]
    assert upward_imports({"liveai.engine.core": {"liveai.music.x"}, "liveai.music.x": set()}) == []


def test_every_folder_has_a_layer() -> None:
    names = {p.name for p in (ROOT / "liveai").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    names |= {p.stem for p in (ROOT / "liveai").glob("*.py") if p.stem != "__init__"} | {"liveai"}
    assert names == set(LAYERS), f"in the package, not in LAYERS: {names - set(LAYERS)}; " \
                                 f"in LAYERS, not in the package: {set(LAYERS) - names}"


def test_readme_layout_is_the_tested_order() -> None:
    """The README names each layer, top first, in a numbered list; it must be this test's order."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    listed: list[str] = []
    numbers: list[int] = []
    for line in section.splitlines():
        m = re.match(r"\s+(\d+)\s+liveai/(\w+)(?:/|\.py)", line)
        if m:
            listed.append("liveai" if m.group(2) == "__init__" else m.group(2))
            numbers.append(int(m.group(1)))
    assert listed == list(LAYERS), f"README Layout lists {listed}"
    assert numbers == list(range(len(LAYERS), 0, -1)), f"README Layout numbers {numbers}"


def duplicate_module_names(root: Path = ROOT / "liveai") -> dict[str, list[str]]:
    """Module names (other than __init__ and __main__) used in more than one folder."""
    seen: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        if path.stem in ("__init__", "__main__"):
            continue
        seen.setdefault(path.stem, []).append(str(path.relative_to(root)))
    return {k: v for k, v in seen.items() if len(v) > 1}


def test_one_module_name_per_job() -> None:
    dups = duplicate_module_names()
    assert dups == {}, f"one name, two modules: {dups}"


def test_duplicate_name_check_catches_one(tmp_path: Path) -> None:
    for f in ("a/render.py", "b/render.py", "b/other.py"):
        (tmp_path / f).parent.mkdir(exist_ok=True)
        (tmp_path / f).write_text("")
    assert duplicate_module_names(tmp_path) == {"render": ["a/render.py", "b/render.py"]}
