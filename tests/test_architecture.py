"""The layout holds: one import direction, no circle, small modules, a light `vidseq --help`."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "vidseq"
LAYERS = {
    "cli": 4,
    "deploy": 3,
    "scale": 3,
    "run": 2,
    "demo": 2,
    "config": 1,
    "models": 1,
    "data": 1,
    "compat": 2,
}


def _module(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every vidseq module a file imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("vidseq")
            and node.level == 0
        ):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("vidseq"))
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in SRC.rglob("*.py")}
    return {m: {i for i in _imports(p) if i in modules and i != m} for m, p in modules.items()}


def test_no_import_circle_counting_imports_inside_functions():
    graph = _graph()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                pytest.fail("import circle: " + " -> ".join(path[path.index(nxt) :] + [nxt]))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_imports_go_one_way_cli_run_models_data():
    """cli → deploy/scale → run → models, data → errors/io: a package never imports one above it."""

    def layer(module: str) -> int:
        parts = module.split(".")
        return LAYERS.get(parts[1], 0) if len(parts) > 1 else 5

    for module, imported in _graph().items():
        for other in imported:
            assert layer(other) <= layer(module), f"{module} imports {other}, which sits above it"


def test_no_module_is_over_300_lines():
    long = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 300
    }
    assert not long, f"modules over 300 lines: {long}"


def _fresh(code: str, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**environ, **env},
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["models"],
        ["train", "--help"],
        ["features", "--help"],
        ["prepare", "--help"],
        ["predict", "--help"],
    ],
)
def test_help_and_models_import_neither_tensorflow_nor_keras(argv):
    out = _fresh(
        "import sys\nfrom vidseq.cli import main\ntry:\n    main(%r)\nexcept SystemExit:\n    pass\n"
        "print('HEAVY', sorted(m for m in ('tensorflow', 'keras', 'jax', 'ray') if m in sys.modules))"
        % argv
    )
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout
    assert out.stderr.strip() == ""


def test_train_help_lists_the_zoo_choices_and_defaults():
    out = _fresh("from vidseq.cli import main\nmain(['train', '--help'])")
    text = " ".join(out.stdout.split())
    assert (
        "convnet-gru" in text
        and "two-stream" in text
        and "(default: 8)" in text
        and "{uniform,sliding}" in text
    )


def test_importing_vidseq_keeps_matplotlibs_backend(tmp_path):
    out = _fresh(
        "import matplotlib\nmatplotlib.use('svg')\nimport numpy as np\nfrom vidseq.viz import clip_grid\n"
        f"clip_grid([np.zeros((2, 8, 8, 3), np.uint8)], ['a'], {str(tmp_path / 'g.png')!r})\n"
        "print('BACKEND', matplotlib.get_backend())"
    )
    assert out.returncode == 0, out.stderr
    assert "BACKEND svg" in out.stdout and (tmp_path / "g.png").stat().st_size > 100
