"""The format × zoo table of docs/export.md is what exporting each tiny zoo entry gives.

A cell is "ok" when the export passed its own check and, run in a fresh process without vidseq or
Keras, gives the Keras model's probabilities (format tolerance, same top-1) at batch 1 and 3;
else "refused (the sentence)". `make test` checks the rows of FAST; the slow test checks (and with
VIDSEQ_WRITE_DOCS=1 rewrites) the whole table.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from tests.deploy.fresh import run_fresh
from tests.models.test_zoo import TINY
from vidseq import build_model, list_models
from vidseq.deploy.export import FORMATS, export_model, keras_predict
from vidseq.errors import VidseqError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "export.md"
BEGIN, END = "<!-- zoo-table -->", "<!-- /zoo-table -->"
SHAPE = (4, 32, 32, 3)
CLASSES = ["a", "b", "c"]
COLUMNS = ("saved_model", "onnx", "tflite")
FAST = (
    "c3d",
    "two-stream",
)  # the 3-D max pool rewrite; two named inputs (convnet-gru: test_export.py)


def zoo_row(name: str, work: Path) -> list[str]:
    """The cells of zoo entry `name`, one per format of COLUMNS."""
    model = build_model(name, SHAPE, len(CLASSES), compile=False, **TINY[name])
    rng = np.random.default_rng(0)
    batches = [
        {t.name: rng.random((n, *t.shape[1:]), dtype=np.float32) for t in model.inputs}
        for n in (1, 3)
    ]
    return [_cell(model, fmt, batches, work / f"{name}-{fmt}") for fmt in COLUMNS]


def _cell(model, fmt: str, batches: list[dict], out: Path) -> str:
    try:
        result = export_model(model, fmt, out, CLASSES)
    except VidseqError as e:
        return f"refused ({e})"
    got, report = run_fresh(fmt, result.artifact, batches, out.with_name(out.name + "-fresh"))
    assert report["loaded"] == []
    for batch, probs in zip(batches, got):
        expected = keras_predict(model, batch)
        np.testing.assert_allclose(probs, expected, rtol=0, atol=FORMATS[fmt].tolerance)
        np.testing.assert_array_equal(probs.argmax(1), expected.argmax(1))
    return "ok"


def render(rows: dict[str, list[str]]) -> str:
    """The markdown table of `rows` (model → cells)."""
    lines = ["| model | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows.items()]
    return "\n".join(lines)


def documented() -> dict[str, list[str]]:
    """The rows of the table in docs/export.md."""
    block = DOCS.read_text().split(BEGIN)[1].split(END)[0]
    rows = {}
    for line in block.strip().splitlines()[2:]:
        name, *cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[name] = cells
    return rows


REGENERATE = "regenerate it: VIDSEQ_WRITE_DOCS=1 pytest -m slow tests/deploy/test_zoo_table.py"


def test_the_documented_table_lists_every_zoo_entry():
    assert list(documented()) == list_models(), (
        f"docs/export.md's table is not the zoo's; {REGENERATE}"
    )


@pytest.mark.parametrize("name", FAST)
def test_fast_rows_match_the_documented_table(name, tmp_path):
    assert zoo_row(name, tmp_path) == documented()[name], REGENERATE


@pytest.mark.slow
def test_the_whole_table_matches_the_docs(tmp_path):
    rows = {name: zoo_row(name, tmp_path) for name in list_models()}
    table = render(rows)
    if os.environ.get("VIDSEQ_WRITE_DOCS") == "1":
        text = DOCS.read_text()
        DOCS.write_text(
            re.sub(
                f"{re.escape(BEGIN)}.*?{re.escape(END)}",
                lambda _: f"{BEGIN}\n{table}\n{END}",
                text,
                flags=re.S,
            )
        )
    assert render(documented()) == table, REGENERATE
