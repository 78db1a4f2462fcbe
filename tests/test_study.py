"""python -m train.reports.study: the seed aggregation on hand-made numbers, and the driver end to end on the tiny
LBI-Synth (two seeds, one epoch), resuming after it is killed."""

import math

import pytest

from train.reports import study
from train.reports.study import Cell, StudyPlan, difference, verdict


def test_cells_aggregate_mean_sd_and_n():
    cell = Cell.of([10.0, 12.0, 14.0, None, math.nan])
    assert (cell.mean, cell.n) == (12.0, 3) and cell.sd == pytest.approx(2.0)
    assert cell.text() == "12.0 +- 2.0" and Cell.of([5.0]).text() == "5.0 +- 0.0 (1)" and Cell.of([]).text() == "-"
    gain, se = difference(Cell.of([50.0, 52.0, 54.0]), Cell.of([60.0, 62.0, 64.0]))
    assert gain == pytest.approx(10.0) and se == pytest.approx(math.sqrt(4 / 3 + 4 / 3))
    assert "reproduces" in verdict(gain, se, 3, "x") and "does not" in verdict(-gain, se, 3, "x")
    assert "cannot tell at this noise level" in verdict(0.5, se, 3, "x") and "one seed" in verdict(9, 0, 1, "x")


def test_study_runs_every_arm_and_resumes_after_a_kill(synth_root, tmp_path, monkeypatch):
    arms = tuple(a for a in study.ARMS if a.name in ("lifting-only (MLP)", study.COARSE, study.REFINED))
    plan = StudyPlan(
        synth_root,
        synth_root,
        tmp_path / "runs",
        seeds=(0, 1),
        train_size=32,
        epochs=1,
        eval_limit=8,
        arms=arms,
        kinds=("gt",),
    )
    real_fit, calls = study.fit, []

    def dying_fit(cfg, resume):
        calls.append(cfg.training.out)
        if len(calls) == 3:
            raise KeyboardInterrupt  # killed in the third run
        return real_fit(cfg, resume)

    monkeypatch.setattr(study, "fit", dying_fit)
    with pytest.raises(KeyboardInterrupt):
        study.run_all(plan, log=lambda *_: None)
    monkeypatch.setattr(study, "fit", lambda cfg, resume: calls.append(cfg.training.out) or real_fit(cfg, resume))
    records = study.run_all(plan, log=lambda *_: None)
    assert len(records) == len(plan.runs_of()) == 3 * 2 * 2  # three arms, two conditions, two seeds
    assert len(calls) == len(records) + 1  # the two finished runs were not trained again; the killed one was
    first = next(iter(records.values()))
    assert first["cpu_seconds"] >= 0 and set(first["results"]["ground-truth 2D"]) == {
        "lab-test",
        "wild-test",
        "rand-test",
    }
    refined = [r for r in records.values() if r["arm"] == study.REFINED][0]
    assert {"ground-truth 2D", "ground-truth 2D, r=0.01", "ground-truth 2D, r=1"} <= set(refined["results"])
    text = study.study_markdown(records, plan, "python -m train.reports.study --test")
    assert "## Verdicts" in text and "+-" in text and "(a) lab, lab-test" in text


def _record(arm: str, condition: str, mpjpe: float) -> dict:
    return {
        "arm": arm,
        "condition": condition,
        "seed": 0,
        "cpu_seconds": 1.0,
        "results": {"ground-truth 2D": {"lab-test": {"mpjpe": mpjpe}}},
    }


def test_full_set_check_compares_each_claims_sign_across_scales(tmp_path):
    from train.reports import study_check

    plans = study_check.plans(tmp_path, tmp_path, tmp_path / "runs", eval_limit=50)
    assert [p.arms[0].conditions for p in plans] == [("lab",), ("rand",)] and all(p.seeds == (0, 1) for p in plans)
    assert all(p.train_size == 0 for p in plans)  # every training crop
    assert {a.name for a in plans[0].arms} == {
        study.COARSE,
        study.REFINED,
        "lifting-only (MLP)",
        "LBI end-to-end (both losses)",
        "plain image model (3 TLs)",
    }
    subset = [_record(study.REFINED, "lab", 100.0 + s) for s in (0, 2)]
    subset += [_record("lifting-only (MLP)", "lab", 90.0 + s) for s in (0, 2)]  # MLP better on the subset
    subset += [_record(study.COARSE, "lab", 100.0 + s) for s in (0, 4)]
    subset += [_record("plain image model (3 TLs)", "lab", 101.0 + s) for s in (0, 4)]  # within the noise
    full = [_record(study.REFINED, "lab", 60.0), _record("lifting-only (MLP)", "lab", 70.0)]  # LBI better: flips
    full += [_record(study.COARSE, "lab", 60.0), _record("plain image model (3 TLs)", "lab", 50.0)]
    text = study_check.check_markdown(subset, full, "check", "study")
    rows = {line[:4]: line for line in text.splitlines() if line.startswith("| (")}
    assert "| -10.0 +- 1.4 (2) | +10.0 (1) | flips |" in rows["| (a"]
    assert "| +1.0 +- 2.8 (2) | -10.0 (1) | the subset could not tell |" in rows["| (b"]
    assert "keeps its sign in 0 of 1 cells" in text
    arms = (study.REFINED, "lifting-only (MLP)", study.COARSE)
    same = [_record(arm, "lab", 50.0 + 10 * i) for i, arm in enumerate(arms)]
    reversed_ = [_record(arm, "lab", 90.0 - 10 * i) for i, arm in enumerate(arms)]
    assert study_check.order_agreement(same, same, "lab", "lab-test") == pytest.approx(1.0)
    assert study_check.order_agreement(same, reversed_, "lab", "lab-test") == pytest.approx(-1.0)
    assert math.isnan(study_check.order_agreement(same, full[:2], "lab", "lab-test"))  # two arms: no order
