"""Typed results: `run` returns an `ExperimentResults` that equals its metrics.json read back, the
JSON keeps today's keys, and a renamed / missing key or a wrong schema_version fails loudly."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from test_experiments import TINY  # the tiny experiment of the CLI tests

from rram_lsm.errors import InputError
from rram_lsm.experiments import SCHEMA_VERSION, ExperimentResults, ResultsError, run, zs_stats
from rram_lsm.experiments.report import summary_text
from rram_lsm.experiments.results import Baselines, Summary, Timings
from rram_lsm.experiments.runner import default_config_path, resolve_config

# metrics.json's top-level keys (schema_version 1): the keys written before typed results + the version
TOP_LEVEL = {"schema_version", "runtime_s", "timings", "data", "builtin_data", "lsm",
             "zero_shot", "zero_shot_by_features", "zero_shot_paper_protocol",
             "zero_shot_paper_protocol_by_features", "zero_shot_headline_features", "chance",
             "held_out_pairs", "classify", "baselines", "costs",
             "zero_shot_control"}  # optional: the arbitrary-pairing control (zero_shot.control)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(run_dir, results, metrics.json as parsed JSON) of the tiny experiment, run in-process."""
    root = tmp_path_factory.mktemp("results")
    run_dir, results = run(None, overrides=TINY, out=root / "run", data_root=root / "data",
                           quiet=True)
    return run_dir, results, json.loads((run_dir / "metrics.json").read_text())


def test_metrics_json_reads_back_equal_to_the_returned_results(tiny):
    run_dir, results, saved = tiny
    assert isinstance(results, ExperimentResults)
    assert ExperimentResults.load(run_dir / "metrics.json") == results
    assert ExperimentResults.load(run_dir) == results  # a run folder works too
    # the JSON round trip is exact: to_dict(from_dict(x)) == x
    assert ExperimentResults.from_dict(saved).to_dict() == saved
    assert json.loads(json.dumps(results.to_dict())) == saved


def test_metrics_json_keeps_the_documented_keys(tiny):
    _, results, saved = tiny
    assert set(saved) == TOP_LEVEL
    assert saved["schema_version"] == SCHEMA_VERSION == 1
    z = results.zero_shot
    assert z.headline_features == "windows" and z.held_out_pairs == [(8, 9), (2, 5)]
    assert saved["zero_shot"] == saved["zero_shot_by_features"]["windows"]
    assert set(saved["zero_shot_by_features"]) == {"windows", "rate"}
    assert z.chance.seen == pytest.approx(1 / 7) and z.chance.unseen == pytest.approx(0.5)
    e = z.headline["macro"]
    assert set(e.unseen.a2i_top1.per_pair) == {"8/9", "2/5"}
    assert saved["zero_shot"]["macro"]["unseen"]["a2i_top1"]["mean"] == e.unseen.a2i_top1.mean
    assert len(e.best_epoch.per_seed) == 2 * 2  # one per (pair, seed) run
    probes = results.classify["image"]
    assert set(probes.probes) == {"gaussian", "gaussian_rate", "macro", "macro_rate", "raw",
                                  "raw_pca", "raw_time_summed"}
    assert probes.probes["macro"].seeds is not None and probes.probes["raw"].seeds is None
    assert set(saved["classify"]["image"]["raw"]) == {"accuracy", "val_accuracy", "features"}
    assert saved["costs"]["training_ratio"] == results.costs.training.training_ratio
    assert saved["costs"]["energy_ratio"] == results.costs.energy.energy_ratio
    assert set(saved["baselines"]) == {"lsm_protonet", "srnn_clip", "rnn_classifier"}
    assert saved["baselines"]["srnn_clip"]["epochs"] == 1
    assert {"data_s", "encode_s", "encode_cache_hits", "zero_shot_s", "classify_s", "baselines_s",
            "figures_s"} <= set(saved["timings"]) <= set(Timings._ORDER)
    # sources x feature modes x seeds x pairs + the control (sources x headline mode x seeds x pairs)
    assert saved["timings"]["zero_shot_trainings"] == 2 * 2 * 2 * 2 + 2 * 2 * 2
    runs = json.loads((tiny[0] / "zero_shot_runs.json").read_text())
    real = [r for r in runs if not r.get("control")]
    assert len(real) == 2 * 2 * 2 * 2  # sources x feature modes x seeds x pairs
    assert set(real[0]) == {"pair", "seed", "best_epoch", "metrics", "history", "chance", "source",
                            "mode", "permutation"}
    ctrl = [r for r in runs if r.get("control")]
    assert len(ctrl) == 2 * 2 * 2 and {r["mode"] for r in ctrl} == {"windows"}


def _pop(d: dict, path: str):
    *head, last = path.split(".")
    for k in head:
        d = d[k]
    return d, last


@pytest.mark.parametrize("path", [
    "costs.training_ratio", "chance", "zero_shot_by_features.rate.macro.unseen.a2i_top1.per_pair",
    "classify.audio.macro.val_accuracy", "lsm.macro.image.energy_per_sample_j", "data.image.train",
    "baselines.srnn_clip.validation.unseen_i2a_top1", "costs.energy.digital_constants.e_mac_j",
    "timings.encode_s", "runtime_s",
])
def test_a_renamed_key_fails_loudly(tiny, path):
    d = copy.deepcopy(tiny[2])
    parent, key = _pop(d, path)
    parent[key + "_renamed"] = parent.pop(key)
    with pytest.raises(ResultsError, match=f"'{key}'"):
        ExperimentResults.from_dict(d)
    del parent[key + "_renamed"]  # a key simply missing fails the same way
    with pytest.raises(ResultsError, match=f"missing key.*'{key}'"):
        ExperimentResults.from_dict(d)


def test_wrong_types_and_inconsistent_headline_fail(tiny):
    d = copy.deepcopy(tiny[2])
    d["zero_shot"]["macro"]["seen"]["a2i_top1"]["mean"] = "0.5"
    with pytest.raises(ResultsError, match=r"zero_shot.macro.seen.a2i_top1.mean: expected a number"):
        ExperimentResults.from_dict(d)
    d = copy.deepcopy(tiny[2])
    d["zero_shot"]["macro"] = d["zero_shot"]["gaussian"]
    with pytest.raises(ResultsError, match="zero_shot disagrees"):
        ExperimentResults.from_dict(d)
    d = copy.deepcopy(tiny[2])
    d["builtin_data"] = 1
    with pytest.raises(ResultsError, match="builtin_data"):
        ExperimentResults.from_dict(d)


def test_schema_version_missing_or_unknown(tiny, tmp_path):
    d = copy.deepcopy(tiny[2])
    del d["schema_version"]
    with pytest.raises(ResultsError, match="no schema_version"):
        ExperimentResults.from_dict(d)
    d["schema_version"] = 2
    with pytest.raises(ResultsError, match="schema_version 2 is not supported.*reads schema_version 1"):
        ExperimentResults.from_dict(d)
    with pytest.raises(ResultsError, match="expected a JSON object"):
        ExperimentResults.from_dict([])
    assert issubclass(ResultsError, InputError)  # the CLI exits 2 on it, without a traceback
    with pytest.raises(ResultsError, match="not found"):
        ExperimentResults.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ResultsError, match="not a readable metrics.json"):
        ExperimentResults.load(tmp_path / "bad.json")


def test_optional_blocks_and_nan_round_trip(tiny, tmp_path):
    _, results, _ = tiny
    bare = replace(results, zero_shot=None, classify=None, baselines=Baselines(),
                   costs=replace(results.costs, energy=None))
    d = bare.to_dict()
    assert not {"zero_shot", "chance", "held_out_pairs", "classify"} & set(d)
    assert d["baselines"] == {} and d["costs"]["energy"] is None and d["costs"]["energy_ratio"] is None
    assert ExperimentResults.from_dict(json.loads(json.dumps(d))) == bare
    # NaN (a summary of nothing) is written as JSON NaN and read back as NaN, as before
    s = Summary.of([])
    assert math.isnan(s.mean) and s.per_seed == []
    nan_res = replace(bare, runtime_s=float("nan"))
    back = ExperimentResults.load(nan_res.save(tmp_path / "metrics.json"))
    assert math.isnan(back.runtime_s)
    assert json.dumps(back.to_dict(), sort_keys=True) == json.dumps(nan_res.to_dict(), sort_keys=True)


def test_summary_text_and_run_folder_guard(tiny):
    run_dir, results, _ = tiny
    text = summary_text(results, run_dir)
    lines = text.splitlines()
    assert lines[1] == f"run folder: {run_dir}  (runtime {results.runtime_s:.1f} s)"
    assert any(ln.startswith("  macro ") for ln in lines) and any(ln.startswith("  gaussian ")
                                                                  for ln in lines)
    assert "chance seen 14.3 / unseen 50.0" in text and lines[-1] == f"report: {run_dir / 'report.md'}"
    # the run folder exists and is not empty: refused before any work, unless force
    with pytest.raises(InputError, match="--force"):
        run(None, overrides=TINY, out=run_dir)


def test_resolve_config():
    root = Path(__file__).resolve().parents[2]
    assert default_config_path() == root / "configs" / "zero_shot_default.yaml"
    cfg = resolve_config(None)
    assert cfg.name == "zero-shot-default"
    assert resolve_config(cfg) is cfg
    assert resolve_config(cfg, ["seeds=3"]).seeds == 3 and cfg.seeds != 3


# --- zero-shot statistics of the digits (permutation control, group test, arbitrary pairing) ---

def test_permutation_scores_true_assignment_is_the_reported_unseen_top1(tiny):
    runs = json.loads((tiny[0] / "zero_shot_runs.json").read_text())
    for r in runs:
        perm, m = r["permutation"], r["metrics"]["validation"]
        assert len(perm["a2i"]) == len(perm["i2a"]) == len(perm["both"]) == 2  # identity, swap
        assert perm["a2i"][0] == pytest.approx(m["unseen_a2i_top1"], abs=1e-6)
        assert perm["i2a"][0] == pytest.approx(m["unseen_i2a_top1"], abs=1e-6)
        assert perm["both"][0] == pytest.approx(0.5 * (perm["a2i"][0] + perm["i2a"][0]))
        # 2 unseen classes with equal counts: the swap scores the complement
        assert perm["a2i"][1] == pytest.approx(1 - perm["a2i"][0], abs=1e-6)


def test_metrics_json_has_the_zero_shot_statistics(tiny):
    _, results, saved = tiny
    z = results.zero_shot
    for block in (saved["zero_shot"], saved["zero_shot_control"]):
        assert set(block) == {"gaussian", "macro"}
        for u in (e["unseen"] for e in block.values()):
            assert 0 < u["permutation_p"] <= 1 and 0 < u["permutation_p_both"] <= 1
            assert set(u["permutation"]["per_group_p"]) == {"8/9", "2/5"}
            assert set(u["permutation"]["per_group_p"].values()) <= {0.5, 1.0}
            assert u["group_test"]["n_groups"] == 2 and u["group_test"]["chance"] == 0.5
            assert "held-out groups" in u["group_test"]["test"]
    # the group test's mean is the mean over pairs of the per-pair means (seeds averaged first)
    e = z.headline["macro"].unseen
    assert e.group_test["mean"] == pytest.approx(
        np.mean([s.mean for s in e.a2i_top1.per_pair.values()]))
    # the combined p is the exact rank-sum p of the per-pair ranks
    ranks = list(e.permutation["per_group_rank"].values())
    assert e.permutation_p == pytest.approx(zs_stats.rank_sum_p(ranks, 2))
    # the paper protocol has no statistics (the permutation scores belong to the selected heads)
    assert "permutation_p" not in saved["zero_shot_paper_protocol"]["macro"]["unseen"]
    # the control: a score per source, over the same seeds and pairs
    for src in ("gaussian", "macro"):
        c = z.control[src].unseen.a2i_top1
        assert len(c.per_seed) == 2 and set(c.per_pair) == {"8/9", "2/5"}
        assert all(0 <= x <= 1 for x in c.per_seed)
    report = (tiny[0] / "report.md").read_text()
    assert "Is zero-shot transfer above chance?" in report and "held-out pair" in report
    assert "t-test" in report and "arbitrary-pairing control" in report
    assert "mean ∓ 2 SEM over seeds vs chance 50" not in report  # no longer the zero-shot criterion


def test_metrics_json_without_the_new_statistics_still_loads(tiny):
    """Files written before the zero-shot statistics (schema_version 1) stay loadable."""
    d = copy.deepcopy(tiny[2])
    del d["zero_shot_control"]
    for table in (d["zero_shot"], *d["zero_shot_by_features"].values()):
        for e in table.values():
            for k in ("permutation_p", "permutation_p_both", "permutation", "group_test"):
                e["unseen"].pop(k, None)
    old = ExperimentResults.from_dict(d)
    assert old.zero_shot.control is None
    assert old.zero_shot.headline["macro"].unseen.permutation_p is None
    assert old.to_dict() == d
    from rram_lsm.experiments.report import _zero_shot_section
    text = "\n".join(_zero_shot_section(resolve_config(None), old.zero_shot, True))
    assert "No zero-shot statistics" in text


def test_a_mistyped_statistic_fails_loudly(tiny):
    d = copy.deepcopy(tiny[2])
    d["zero_shot_control"]["macro"]["unseen"]["permutation_p"] = "0.5"
    with pytest.raises(ResultsError, match="zero_shot_control.macro.unseen.permutation_p"):
        ExperimentResults.from_dict(d)
