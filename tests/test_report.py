"""`ganrun-report`: sweeps end in one comparison table, seeds pooled."""

from __future__ import annotations

import csv
import json
import statistics

import pytest
import yaml

from ganrun.commands.report import main as report_main
from ganrun.report import summarize


def fake_run(root, name, overrides, **metrics):
    run = root / name
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (run / "metrics.json").write_text(json.dumps({"steps": 100, "status": "finished", **metrics,
                                                  "protocol": {"fid": "..."}}))
    return run


@pytest.fixture
def sweep(tmp_path):
    fake_run(tmp_path, "0", ["loss=ns", "seed=0", "dataset=digits"], fid=10.0, loss_d=1.0)
    fake_run(tmp_path, "1", ["loss=ns", "seed=1", "dataset=digits"], fid=14.0, loss_d=1.2)
    fake_run(tmp_path, "2", ["loss=wgan_gp", "seed=0", "dataset=digits"], fid=8.0, loss_d=-0.5)
    diverged = tmp_path / "3"
    (diverged / ".hydra").mkdir(parents=True)
    (diverged / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(["loss=wgan_gp", "seed=1",
                                                                       "dataset=digits"]))
    (diverged / "metrics.json").write_text(json.dumps({"steps": 40, "status": "diverged", "diverged_step": 41}))
    return tmp_path


def test_runs_are_grouped_by_setting_with_seeds_pooled(sweep):
    names, rows, common, notes = summarize(sorted(sweep.iterdir()))
    assert common == ["dataset=digits"]
    assert names == ["fid", "loss_d"], "bookkeeping keys (steps, diverged_step) are not metrics"
    ns, gp = rows
    assert (ns["setting"], ns["runs"], ns["finished"]) == ("loss=ns", 2, 2)
    assert ns["fid"] == (12.0, statistics.stdev([10.0, 14.0]))
    assert (gp["setting"], gp["runs"], gp["finished"]) == ("loss=wgan_gp", 2, 1)
    assert gp["fid"] == (8.0, None), "one finished run: a mean, no spread"


def test_the_report_command_prints_and_writes_the_table(sweep, capsys):
    assert report_main([str(sweep), "--metrics", "fid"]) == 0
    out = capsys.readouterr().out
    assert "Every run: dataset=digits" in out
    assert "| loss=ns | 2 | 2 | 12 ± 2.8 |" in out
    assert "| loss=wgan_gp | 2 | 1 | 8 |" in out
    rows = list(csv.reader(open(sweep / "report.csv")))
    assert rows[0] == ["setting", "runs", "finished", "fid", "fid_std"]
    assert rows[1][:4] == ["loss=ns", "2", "2", "12.0"]
    assert (sweep / "report.md").read_text().count("\n") >= 4


def test_report_errors_are_one_line(tmp_path, capsys):
    assert report_main([str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.strip() == f"ganrun-report: error: {tmp_path / 'nope'} is not a folder"
    assert report_main([str(tmp_path)]) == 2
    assert "no runs with a metrics.json" in capsys.readouterr().err


def test_a_misspelt_column_or_grouping_key_is_refused(sweep, capsys):
    assert report_main([str(sweep), "--by", "lss"]) == 2
    assert capsys.readouterr().err.strip() == ("ganrun-report: error: --by lss: no run has it (did you mean "
                                               "loss?); these runs have dataset, loss, seed")
    assert report_main([str(sweep), "--metrics", "fdi"]) == 2
    assert "--metrics fdi: no run has it (did you mean fid?)" in capsys.readouterr().err
    assert not (sweep / "report.md").exists(), "nothing written for a refused table"
