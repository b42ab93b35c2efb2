"""Every ``experiments/*.py`` runs with ``--smoke`` and writes a sane ``results.json``; the CLI helper.

Each experiment runs in its own subprocess (float32, as outside the tests), so the test
checks exactly what a user gets from ``python experiments/<name>.py --smoke --out DIR``.
"""
import dataclasses
import importlib.util
import json
import math
import os
import pathlib
import subprocess
import sys
from typing import Optional

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted(p for p in (ROOT / "experiments").glob("*.py") if not p.name.startswith("_"))
TIMEOUT_S = 300

# Per-experiment checks on top of the generic ones: name -> function(results) raising on failure.


def _check_coba(res):
    m, cfg = res["metrics"], res["config"]
    assert math.isfinite(m["rate_hz"]) and m["rate_hz"] > 0, m["rate_hz"]
    assert m["n_neurons"] == cfg["n"]
    assert m["n_synapses"] == cfg["n"] * cfg["k"]
    assert m["n_steps"] == round(cfg["duration"] / cfg["dt"])
    assert m["compiles_during_run"] == 0
    for key in ("sim_seconds", "compile_seconds", "cpu_seconds"):
        assert m[key] > 0
    for key in ("raster_png", "rate_png"):
        assert os.path.getsize(m[key]) > 0


def _check_bench_coba(res):
    m = res["metrics"]
    assert m["n_failed"] == 0 and m["n_runs"] == len(m["runs"]) > 0
    assert any(run["simulator"] == "neurojax" for run in m["runs"])
    for run in m["runs"]:
        assert math.isfinite(run["rate_hz"]) and run["rate_hz"] > 0, run
        assert run["cpu_seconds"] > 0, run
        assert run.get("compiles_during_run", 0) == 0, run
    assert os.path.getsize(m["plot_png"]) > 0


def _check_esn_benchmarks(res):
    m = res["metrics"]
    records = {r["task"]: r for r in m["tasks"]}
    assert set(records) == {"mc", "narma10", "mg_1", "mg_84_direct", "mg_84_closed", "drive10k"}
    for name, r in records.items():
        assert math.isfinite(r["score_neurojax"]) and r["cpu_seconds_neurojax"] > 0, r
        if "score_neurojax_f32" in r:       # --float32: float32 scan + float64 solve
            assert abs(r["score_neurojax_f32"] - r["score_neurojax"]) <= 1e-3 * abs(
                r["score_neurojax"]), r
        if m["reservoirpy_available"]:
            # same reservoirpy matrices and data, float64: the same score (specs §6: 1e-6)
            assert abs(r["score_neurojax"] - r["score_reservoirpy"]) <= 1e-6 * max(
                1.0, abs(r["score_reservoirpy"])), r
            assert r["cpu_seconds_reservoirpy"] > 0, r
        else:
            assert r["score_reservoirpy"] is None and r["cpu_seconds_reservoirpy"] is None
    assert m["reservoirpy_available"] or m["reservoirpy_skipped_reason"]
    # a memory capacity between 1 and k_max; the readouts learn NARMA-10 and Mackey-Glass
    assert 1.0 < records["mc"]["score_neurojax"] < records["mc"]["k_max"]
    assert records["narma10"]["score_neurojax"] < 0.8
    assert records["mg_1"]["score_neurojax"] < 0.05
    sweep = m["sweep"]
    assert sweep["n_configs"] == 64 and len(sweep["scores"]) == 64
    assert set(sweep["methods"]) == {"singles", "vmap", "vmap_nested", "lax_map"}
    for method in sweep["methods"].values():     # batched and looped scores agree
        assert method["max_abs_diff_vs_singles"] <= 1e-8, sweep["methods"]
        assert method["cpu_seconds"] > 0
    if m["reservoirpy_available"]:
        for key in ("parity_png", "speedup_png"):
            assert os.path.getsize(m[key]) > 0


def _check_what_when(res):
    m, cfg = res["metrics"], res["config"]
    assert m["rate_e_hz"] > 0 and m["rate_i_hz"] > 0
    assert m["n_trials"] == sum(cfg["trials_per_block"])
    for method in ("three_factor", "force", "force_reset"):
        blocks = m["methods"][method]["blocks"]
        assert len(blocks) == len(cfg["latencies"])
        for b in blocks:
            assert 0 <= b["when_mse"] < 1 and 0 <= b["what_mse"] < 1, b
            assert 0 <= b["when_amplitude"] <= 1, b
        curves = m["methods"][method]["curves"]["heldout"]
        assert len(curves["when_mse"]) == m["n_trials"]
        assert all(math.isfinite(v) for v in curves["when_mse"])
    # before the switch the two FORCE readouts are the same learner: identical block-1 metrics
    assert m["methods"]["force"]["blocks"][0] == m["methods"]["force_reset"]["blocks"][0]
    for key in ("raster_png", "readouts_png", "learning_curves_png"):
        assert os.path.getsize(m[key]) > 0


def _check_nalsm(res):
    m, cfg = res["metrics"], res["config"]
    assert m["model"] == cfg["model"] and m["data"] == cfg["data"]
    assert (m["n_train"], m["n_val"], m["n_test"]) == (cfg["n_train"], cfg["n_val"], cfg["n_test"])
    assert m["n_neurons"] == math.prod(cfg["liquid"]) and len(m["per_network"]) == cfg["networks"]
    for key in ("test_accuracy", "val_accuracy"):
        assert 0.0 <= m[key] <= 1.0, (key, m[key])
    assert math.isfinite(m["branching_factor"]) and m["branching_factor"] > 0
    assert 1 <= m["ap"] <= m["n_neurons"] and 1 <= m["sp"] <= m["n_neurons"]
    assert m["spikes_per_neuron"] > 0 and m["samples_per_s"] > 0
    assert m["extrapolated_full_protocol_seconds_per_network"] > 0
    for key in ("raster_png", "warmup_png"):
        assert os.path.getsize(m[key]) > 0


def _check_zero_shot_lsm(res):
    m, cfg = res["metrics"], res["config"]
    for mod in ("image", "audio"):
        for name in ("liquid", "raw", "raw_counts"):
            r = m[f"probe_{mod}_{name}"]
            assert len(r["per_seed"]) == cfg["seeds"] and all(0 <= a <= 1 for a in r["per_seed"])
    for name in ("liquid", "raw"):
        for split in ("seen", "unseen"):
            assert 0 <= m[f"zero_shot_{name}_{split}_acc"] <= 1
        assert math.isfinite(m[f"zero_shot_{name}_loss_last"])
    assert abs(m["chance_seen"] - 1 / 7) < 0.05 and abs(m["chance_unseen"] - 0.5) < 0.1
    assert m["n_image_inputs"] == cfg["crop"] ** 2 * (2 if cfg["polarity"] == "both" else 1)
    assert m["n_audio_inputs"] == cfg["audio_channels"] and m["n_pairs"] >= cfg["clip_batch"]
    assert m["probe_image_raw_acc"] > 0.3      # the raw events are separable even at smoke size
    assert os.path.getsize(m["plot_png"]) > 0


def _check_lsm_gradient(res):
    m, cfg = res["metrics"], res["config"]
    assert set(m["datasets"]) == set(cfg["data"]) and m["n_neurons"] == math.prod(cfg["liquid"])
    methods = ("softmax", "ridge", "adam_readout", "bptt")
    for name, e in m["datasets"].items():
        assert len(e["per_network"]) == cfg["networks"]
        nb = math.ceil(e["n_train"] / min(cfg["batch_size"], e["n_train"]))
        for r in e["per_network"]:
            assert r["w"] in cfg["w_sweep"] and r["spikes_per_neuron"] > 0
            for meth in methods:
                assert 0.0 <= r[meth]["test_accuracy"] <= 1.0, (name, meth, r[meth])
            b = r["bptt"]
            assert b["epochs_run"] == cfg["epochs"] and b["steps"] == cfg["epochs"] * nb
            assert 1 <= b["best_epoch"] <= cfg["epochs"] and b["cpu_seconds"] > 0
            assert r["adam_readout"]["steps"] == cfg["readout_epochs"] * nb
            assert b["input_weight_change_rms"] > 0
        for meth in methods:
            mean = sum(r[meth]["test_accuracy"] for r in e["per_network"]) / cfg["networks"]
            assert abs(e[meth] - mean) < 1e-9 and m[f"{name}_{meth}_test_accuracy"] == e[meth]
        assert e["bptt_beats_fixed"] == (e["bptt"] > max(e[k] for k in methods[:3]))
    for key in ("curves_png", "accuracy_png"):
        assert os.path.getsize(m[key]) > 0


def _check_bench_bptt(res):
    m = res["metrics"]
    assert m["n_failed"] == 0 and m["n_runs"] == len(m["runs"]) > 0
    keys = {(r["library"], r["variant"]) for r in m["runs"]}
    assert {("neurojax", "rec"), ("plain_jax", "rec")} <= keys
    for r in m["runs"]:
        assert r["cpu_ms_step"] > 0 and r["forward_cpu_ms"] > 0 and r["compile_s"] > 0, r
        assert math.isfinite(r["backward_over_forward"]), r
        assert math.isfinite(r["loss_first"]) and math.isfinite(r["loss_last"]), r
    has_spyx = any(r["library"] == "spyx" for r in m["runs"])
    assert has_spyx == (m["spyx_skipped"] is None)
    if has_spyx:
        assert all("x_spyx" in q for q in m["ratios"])
    assert os.path.getsize(m["plot_png"]) > 0


EXTRA_CHECKS = {"coba": _check_coba, "bench_coba": _check_bench_coba,
                "esn_benchmarks": _check_esn_benchmarks,
                "what_when_reservoir": _check_what_when, "nalsm": _check_nalsm,
                "zero_shot_lsm": _check_zero_shot_lsm, "lsm_gradient": _check_lsm_gradient,
                "bench_bptt": _check_bench_bptt}


def _load_cli():
    spec = importlib.util.spec_from_file_location("experiments_cli", ROOT / "experiments" / "_cli.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("script", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_smoke(script, tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("JAX_ENABLE_X64", None)
    proc = subprocess.run([sys.executable, str(script), "--smoke", "--out", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"{script.name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    results = json.loads((out / "results.json").read_text())
    assert {"config", "metrics", "git_commit", "jax_version", "timestamp"} <= set(results)
    numbers = {k: v for k, v in results["metrics"].items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    assert numbers, "results.json has no numeric metrics"
    assert all(math.isfinite(v) for v in numbers.values()), numbers
    EXTRA_CHECKS.get(script.stem, lambda res: None)(results)


# ----------------------------------------------------------------------------- _cli


@dataclasses.dataclass(frozen=True)
class _Config:
    n_units: int = 10
    rate: float = 1.5
    name: str = "a"
    plot: bool = True
    sizes: tuple[int, ...] = (1, 2)
    pair: tuple[float, float] = (0.5, 1.0)
    limit: Optional[int] = None
    out: str = "results/x"

    def smoke(self):
        return dataclasses.replace(self, n_units=2, plot=False)



def test_cli_parse_types_smoke_and_overrides():
    cli = _load_cli()
    assert cli.parse(_Config, []) == _Config()
    cfg = cli.parse(_Config, ["--n-units", "7", "--rate", "2", "--no-plot", "--sizes", "4", "5",
                              "6", "--pair", "1", "2", "--limit", "3", "--out", "d"])
    assert cfg == _Config(n_units=7, rate=2.0, plot=False, sizes=(4, 5, 6), pair=(1.0, 2.0),
                          limit=3, out="d")
    assert cli.parse(_Config, ["--smoke"]) == _Config(n_units=2, plot=False)
    # explicit options override the smoke configuration
    assert cli.parse(_Config, ["--smoke", "--n-units", "5", "--plot"]) == _Config(n_units=5)
    assert cli.parse(_Config, ["--limit", "none"]).limit is None
    with pytest.raises(SystemExit):
        cli.parse(_Config, ["--n-units", "x"])


def test_cli_save_results(tmp_path):
    cli = _load_cli()
    import numpy as np

    path = cli.save_results(_Config(out=str(tmp_path / "r")),
                            {"a": np.float32(1.5), "b": np.arange(3), "c": float("nan")})
    res = json.loads(pathlib.Path(path).read_text())
    assert res["metrics"] == {"a": 1.5, "b": [0, 1, 2], "c": None}
    assert res["config"]["sizes"] == [1, 2]
    assert res["git_commit"] is None or len(res["git_commit"]) == 40
    import jax
    assert res["jax_version"] == jax.__version__
