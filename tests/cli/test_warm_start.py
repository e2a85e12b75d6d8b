"""Issue 10 items 5 and 6 through `leafctl run evolve` on the local backend: `--seed-from RUN_ID|MODEL`,
the baseline next to the front, `--warm-start RUN_ID --data new.csv` (the outer loop) and its lineage.

Runs go through the CLI and the local backend's real jobs; their outputs are checked against the engine's
own parts (seeding.Genomes, surrogate.load, evaluate.Problem), never against copies of them.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from leaftest import assert_error

from leafctl.esp.samples import sample_data_path

FAST = ["--population", "16", "--predictor", "ridge"]


def _evolve(cli, *args: str) -> dict:
    r = cli("run", "evolve", *args, "-o", "json")
    assert r.code == 0, r
    return r.json()


def _result(run: dict) -> Path:
    return Path(run["outputs_path"]) / "result"


def _campaign_rows() -> tuple[list[str], list[list[str]]]:
    with open(sample_data_path("campaign"), newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def _new_outcomes_csv(path: Path) -> Path:
    """The campaign table "after acting": the same columns, new rows appended and outcomes that moved
    (observed revenue 20% higher where emails were sent), as the outer loop's next data would be."""
    header, rows = _campaign_rows()
    i_rev, i_em = header.index("revenue"), header.index("emails")
    out = []
    for r in rows + rows[:500]:
        r = list(r)
        if float(r[i_em]) > 0:
            r[i_rev] = f"{float(r[i_rev]) * 1.2:.2f}"
        out.append(r)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(out)
    return path


def test_seed_from_a_run_id_and_a_registered_model_through_the_backend(cli):
    first = _evolve(cli, "--sample", "campaign", *FAST, "--generations", "3")
    assert first["baseline"]["objectives"].keys() == {"revenue", "margin"}
    seeded = _evolve(cli, "--sample", "campaign", *FAST, "--generations", "0", "--seed-from", first["id"])
    assert seeded["seeded_from"] == first["id"] and seeded["tags"]["leafctl.seeded_from"] == first["id"]
    shown = cli("run", "show", seeded["id"], "-o", "json").json()
    assert shown["tags"]["leafctl.seeded_from"] == first["id"]
    # The job read the genomes staged in its code folder (seed.npz), not this machine's registry.
    code = Path(shown["outputs_path"]).parent / "snapshot"
    assert sorted(p.name for p in code.glob("*.npz")) == ["seed.npz"]
    from leafctl.esp import seeding

    front = seeding.Genomes.load(_result(first)).front().theta
    with np.load(_result(seeded) / "population.npz") as z:
        theta = z["theta"]
    n = min(len(front), seeding.seed_budget(16) - 3)
    np.testing.assert_allclose(theta[3:3 + n], front[:n], atol=1e-6)
    # A registered model NAME (and NAME:VERSION) seeds the same way.
    assert cli("model", "register", "campaign-esp", "--run", first["id"], "-o", "json").code == 0
    by_model = _evolve(cli, "--sample", "campaign", *FAST, "--generations", "0", "--seed-from", "campaign-esp:1")
    assert by_model["seeded_from"] == "campaign-esp:1"
    with np.load(_result(by_model) / "population.npz") as z:
        np.testing.assert_allclose(z["theta"][3:3 + n], front[:n], atol=1e-6)
    # What names nothing is exit 3.
    assert_error(cli("run", "evolve", "--sample", "campaign", *FAST, "--seed-from", "no-such-thing"), 3, "no-such-thing")


def test_seed_from_or_warm_start_of_another_layout_is_exit_2_naming_what_differs(cli, tmp_path):
    first = _evolve(cli, "--sample", "campaign", *FAST, "--generations", "1")
    header, rows = _campaign_rows()
    keep = [j for j, h in enumerate(header) if h != "channel"]
    narrow = tmp_path / "narrow.csv"
    with open(narrow, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([header[j] for j in keep])
        w.writerows([[r[j] for j in keep] for r in rows[:400]])
    r = cli("run", "evolve", "--data", str(narrow), "--actions", "discount,emails", "--outcomes", "revenue,margin",
            "--objective", "revenue:max", "--objective", "margin:max", *FAST, "--seed-from", first["id"])
    assert_error(r, 2, "layout differs", "channel", "--seed-from")
    r = cli("run", "evolve", "--warm-start", first["id"], "--data", str(narrow), "--context",
            "age,income,past_spend,visits,region")
    assert_error(r, 2, "layout differs", "channel", "--warm-start")
    assert_error(cli("run", "evolve", "--warm-start", "nosuch_run", "--data", str(narrow)), 3, "nosuch_run")
    assert_error(cli("run", "evolve", "--resume", first["id"], "--warm-start", first["id"]), 2, "--warm-start")
    # Nothing was submitted by any of the refused commands.
    assert [x["id"] for x in cli("run", "list", "-o", "json").json()] == [first["id"]]


def test_warm_start_retrains_on_new_data_re_evaluates_the_population_and_records_lineage(cli, tmp_path):
    first = _evolve(cli, "--sample", "campaign", *FAST, "--generations", "3", "--seed", "4")
    new = _new_outcomes_csv(tmp_path / "new.csv")
    warm = _evolve(cli, "--warm-start", first["id"], "--data", str(new), "--generations", "0")
    old_dir, new_dir = _result(first), _result(warm)
    # Lineage: the run's tags (and `run show`), the JSON and the outputs' lineage.json.
    assert warm["warm_started_from"] == first["id"] and warm["tags"]["leafctl.warm_started_from"] == first["id"]
    assert cli("run", "show", warm["id"], "-o", "json").json()["tags"]["leafctl.warm_started_from"] == first["id"]
    assert json.loads((new_dir / "lineage.json").read_text()) == {"warm_started_from": first["id"]}
    # That run's config (population, seed, predictor...), on the new data.
    import tomllib

    cfg_new = tomllib.loads((new_dir / "config.toml").read_text())
    assert cfg_new["population"] == 16 and cfg_new["seed"] == 4 and cfg_new["warm_start"] == "warm.npz"
    # The predictor was retrained on the new table.
    assert (new_dir / "predictor.npz").read_bytes() != (old_dir / "predictor.npz").read_bytes()
    # Generation 0 is the earlier run's final population, best first, as prescriptors of the new encoding.
    from leafctl.esp import seeding, surrogate
    from leafctl.esp.data import load_dataset
    from leafctl.esp.engine import check_config, load_config
    from leafctl.esp.evaluate import Problem
    from leafctl.esp.prescriptor import Layout

    cfg = load_config(new_dir / "config.toml", {"data": str(new), "warm_start": ""})
    ds, costs = check_config(cfg)
    layout = Layout(ds.Xc.shape[1], cfg.hidden, ds.actions)
    prior = seeding.Genomes.load(old_dir)
    expected = prior.for_layout(layout, ds.context, "--warm-start")
    with np.load(new_dir / "population.npz") as z:
        theta, F = z["theta"], z["F"]
    np.testing.assert_array_equal(theta, expected)
    # Every member re-evaluated by the new predictor: no stale objectives carried over.
    predictor, _ = surrogate.load(new_dir)
    problem = Problem(layout, predictor, ds.Xc, cfg.resolved_outcomes(), list(cfg.objectives), costs)
    np.testing.assert_allclose(F, problem.evaluate(theta), rtol=1e-6)
    with np.load(old_dir / "population.npz") as z:
        from leafctl.esp.nsga2 import sort_key

        old_F = z["F"][np.asarray(sort_key(z["rank"], z["crowding"]))]
    assert not np.allclose(F, old_F, rtol=1e-3)
    assert warm["baseline"]["objectives"]["revenue"] > first["baseline"]["objectives"]["revenue"]
    # And it evolves on from there.
    more = _evolve(cli, "--warm-start", first["id"], "--data", str(new), "--generations", "2")
    assert more["status"] == "Completed" and more["front"]
    assert load_dataset(str(new), cfg.context, cfg.actions, cfg.resolved_outcomes()).n == 2500


def test_seed_policies_flag_and_the_today_line(cli, exe):
    off = _evolve(cli, "--sample", "campaign", *FAST, "--generations", "0", "--no-seed-policies")
    on = _evolve(cli, "--sample", "campaign", *FAST, "--generations", "0")
    with np.load(_result(off) / "population.npz") as a, np.load(_result(on) / "population.npz") as b:
        S = 3  # population 16: a clone, the min and the max policy
        np.testing.assert_array_equal(a["theta"][:16 - S], b["theta"][S:])
        assert not np.array_equal(a["theta"][:S], b["theta"][:S])
    logs = cli("run", "logs", on["id"]).stdout
    assert "generation 0: 3 seeded" in logs and "today" in logs
    assert "generation 0: 16 random" in cli("run", "logs", off["id"]).stdout
    from leafctl.cli.evolve import today_line

    line = today_line(on)
    assert line.startswith("today: revenue ") and " / prescribed (knee): revenue " in line
    assert on["baseline"]["observed"]["revenue"] == pytest.approx(377.49, abs=0.01)


def test_seed_genomes_travel_in_the_code_folder_of_a_cluster_job(cli, tmp_path):
    """An Azure ML job sees neither this machine's files nor the local registry: the plan stages the
    genomes as seed.npz beside config.toml, and the job, run in that folder as the cluster runs it (with
    the leafctl the snapshot ships), seeds from them."""
    import os
    import subprocess
    import sys

    first = _evolve(cli, "--sample", "campaign", *FAST, "--generations", "1")
    model_dir = _result(first) / "model"
    r = cli("run", "evolve", "--sample", "campaign", *FAST, "--generations", "0", "--seed-from", str(model_dir),
            "--remote", "--compute", "gpu-cluster", "--dry-run", "-o", "json")
    assert r.code == 0, r
    plan = r.json()
    code = Path(plan["job"]["code"])
    assert (code / "seed.npz").is_file() and (code / "leafctl" / "esp" / "seeding.py").is_file()
    assert plan["config"]["seed_from"] == str(model_dir)  # what the user asked for; the job reads seed.npz
    import tomllib

    assert tomllib.loads((code / "config.toml").read_text())["seed_from"] == "seed.npz"
    out = tmp_path / "job-out"
    env = {**os.environ, "PYTHONPATH": str(code)}
    job = subprocess.run([sys.executable, "-m", "leafctl.esp.job", "config.toml", str(out), "--data",
                          str(sample_data_path("campaign")), "--set", "device=cpu"],
                         cwd=code, env=env, capture_output=True, text=True, timeout=300)
    assert job.returncode == 0, job.stderr
    from leafctl.esp import seeding

    front = seeding.Genomes.load(model_dir).front().theta
    n = min(len(front), seeding.seed_budget(16) - 3)
    with np.load(out / "population.npz") as z:
        np.testing.assert_allclose(z["theta"][3:3 + n], front[:n], atol=1e-6)
    assert json.loads((out / "lineage.json").read_text()) == {"seeded_from": str(model_dir.resolve())}
