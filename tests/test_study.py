"""The accuracy-study script runs end to end in its --quick mode on a generated folder."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

STUDY = Path(__file__).resolve().parents[1] / "benchmarks" / "study.py"


def test_study_quick_mode_trains_every_fold_and_prints_the_table(motion_data, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("study", STUDY)
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    study.main(["--quick", "--data", str(motion_data), "--configs", "tsn", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert len(results["tsn"]["accuracy"]) == 2 and all(
        0 <= a <= 1 for a in results["tsn"]["accuracy"]
    )
    assert (tmp_path / "tsn-fold1" / "metrics.json").is_file()
    assert "| tsn |" in capsys.readouterr().out
