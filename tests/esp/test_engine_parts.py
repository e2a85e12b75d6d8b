"""The engine in parts: the config module stays light, every mode has a step, and the run's
progress lines are the ones `run logs` and `leafctl.evolve.parse_progress` read."""

from __future__ import annotations

import subprocess
import sys


def test_config_module_imports_no_numpy():
    code = ("import sys, leafctl.esp.config as c; c.load_config(None, {'data': 'x.csv', 'actions': ['a'], "
            "'objectives': ['y:max']}); heavy = [m for m in ('numpy', 'pyarrow', 'cupy') if m in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_mode_has_a_step():
    from leafctl.esp.config import MODES
    from leafctl.esp.steps import STEPS

    assert set(STEPS) == set(MODES)


def test_progress_line_round_trips_through_parse_progress():
    from leafctl.esp.monitors import progress_line
    from leafctl.evolve import parse_progress

    rec = {"generation": 3, "generations": 20, "best": {"revenue": 418.4, "action_cost": 1.25}, "hypervolume": 0.42}
    line = progress_line(rec)
    assert "{" not in line  # words, not a dict repr
    back = parse_progress(line)
    assert back["generation"] == 3 and back["generations"] == 20
    assert back["best"] == {"revenue": 418.4, "action_cost": 1.25} and back["hypervolume"] == 0.42


def test_island_run_logs_words_not_a_dict(tmp_path, tiny_config):
    from leafctl.esp.config import config_from_dict
    from leafctl.esp.engine import evolve

    cfg = config_from_dict({"population": 8, "generations": 2, "islands": 2, "migrate_every": 1, "migrants": 1,
                            "predictor": "ridge", "device": "cpu"}, tiny_config).validate()
    lines: list[str] = []
    evolve(cfg, tmp_path / "out", log=lines.append)
    gen_lines = [x for x in lines if x.startswith("generation ")]
    assert gen_lines and all("{" not in x for x in gen_lines)
