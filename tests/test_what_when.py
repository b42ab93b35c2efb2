"""The what/when reservoir experiment (experiments/what_when_reservoir.py): task construction
(teachers, gate, stimulus and cue arrays at the right steps, trial identities with the right
probabilities, Izhikevich heterogeneity, weight scaling), the metric functions against
hand-computed values, and a tiny end-to-end session through ``nj.simulate``."""
import dataclasses
import importlib.util
import pathlib

import numpy as np
import pytest

from tolerances import EXACT

ROOT = pathlib.Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("what_when_reservoir",
                                               ROOT / "experiments" / "what_when_reservoir.py")
ww = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ww)

# cue at step 20, latencies 60 / 100 ms -> trial of 20 + 100 + 30 = 150 steps at dt = 1 ms
CFG = ww.Config(n_e=40, n_i=10, cue_onset=20.0, latencies=(60.0, 100.0), p_a=(0.8, 0.3),
                p_b=(0.2, 0.7), trials_per_block=(3, 3), post_ms=30.0, target_sigma=10.0,
                stim_ms=15.0, cue_span=120.0, cue_groups=4, eval_trials=2, conv_window=2,
                progress=False)


# ---------------------------------------------------------------------------------------------
# Task construction
# ---------------------------------------------------------------------------------------------

def test_trial_signals_teachers_gate_and_stimulus_at_the_right_steps():
    cfg = CFG
    assert cfg.trial_steps == 150 and cfg.cue_step == 20
    t = np.arange(150)
    for identity in (0, 1):
        sig = ww.trial_signals(cfg, 60.0, identity)
        stim = 20 + 60
        assert sig["stim_step"] == stim
        pulse = np.exp(-0.5 * ((t - stim) / 10.0) ** 2)
        np.testing.assert_allclose(sig["when"], pulse, **EXACT)
        assert sig["when"].argmax() == stim and sig["when"][stim] == 1.0
        np.testing.assert_allclose(sig["when"][stim + 10], np.exp(-0.5), **EXACT)   # one s.d.
        np.testing.assert_allclose(sig["what"][:, identity], pulse, **EXACT)
        np.testing.assert_array_equal(sig["what"][:, 1 - identity], 0.0)
        np.testing.assert_array_equal(np.nonzero(sig["stim_on"])[0], np.arange(stim, stim + 15))
        np.testing.assert_array_equal(np.nonzero(sig["gate"])[0], np.arange(20, 150))   # to the end
    omitted = ww.trial_signals(cfg, 60.0, -1)
    for key in ("when", "what", "stim_on"):
        np.testing.assert_array_equal(omitted[key], 0.0)
    np.testing.assert_array_equal(np.nonzero(omitted["gate"])[0], np.arange(20, 150))
    windowed = ww.trial_signals(dataclasses.replace(cfg, gate_post=25.0), 100.0, 1)
    assert windowed["stim_step"] == 120
    np.testing.assert_array_equal(np.nonzero(windowed["gate"])[0], np.arange(20, 145))
    # dt = 0.5 ms: the same times land on twice as many steps
    half = ww.trial_signals(dataclasses.replace(cfg, dt=0.5), 60.0, 0)
    assert half["stim_step"] == 160 and half["when"].size == 300
    np.testing.assert_allclose(half["when"][160 + 20], np.exp(-0.5), **EXACT)


def test_schedule_blocks_latencies_and_identity_probabilities():
    """20,000 trials per block: the frequencies of A, B and omission match p_a, p_b and
    1 - p_a - p_b within 5 binomial standard errors."""
    n = 20000
    cfg = dataclasses.replace(CFG, latencies=(300.0, 500.0), p_a=(0.8, 0.3), p_b=(0.2, 0.5),
                              trials_per_block=(n, n))
    blocks, lats, ids = ww.schedule(cfg, np.random.default_rng(1))
    np.testing.assert_array_equal(blocks, np.repeat([0, 1], n))
    np.testing.assert_array_equal(lats, np.repeat([300.0, 500.0], n))
    for b, expected in ((0, (0.8, 0.2, 0.0)), (1, (0.3, 0.5, 0.2))):
        got = ids[blocks == b]
        for value, p in zip((0, 1, -1), expected):
            freq = np.mean(got == value)
            tol = 5 * np.sqrt(max(p * (1 - p), 1e-12) / n) + 1e-12
            assert abs(freq - p) <= tol, (b, value, freq, p)


def test_cue_drive_sequence_and_pulse():
    """Sequence: group g peaks (cue_amp) at t_c + g * span / (groups - 1), zero before the cue,
    neuron i in group i % groups. Pulse: cue_amp exactly on [t_c, t_c + cue_pulse_ms)."""
    cfg = CFG                                   # 4 groups over 120 ms -> centres 0, 40, 80, 120
    drive = ww.cue_drive(cfg)
    n_cue = round(cfg.cue_frac * cfg.n_e)
    assert drive.shape == (150, n_cue)
    np.testing.assert_array_equal(drive[:20], 0.0)
    for g, centre in enumerate((0, 40, 80, 120)):
        col = drive[:, g]
        assert col.argmax() == 20 + centre and col.max() == pytest.approx(15.0, rel=1e-12)
        if centre < 120:                                             # one s.d. (40 / 2 ms) later
            np.testing.assert_allclose(col[20 + centre + 20], 15.0 * np.exp(-0.5), **EXACT)
        np.testing.assert_array_equal(drive[:, g + 4], col)          # neuron g + 4: same group
    pulse = ww.cue_drive(dataclasses.replace(cfg, cue_mode="pulse", cue_pulse_ms=7.0, cue_amp=3.0))
    expected = np.where((np.arange(150) >= 20) & (np.arange(150) < 27), 3.0, 0.0)
    np.testing.assert_array_equal(pulse, np.repeat(expected[:, None], n_cue, axis=1))


def test_input_subsets_are_disjoint_excitatory_and_sized():
    cue, a, b = ww.input_subsets(CFG, np.random.default_rng(0))
    assert (len(cue), len(a), len(b)) == (20, 4, 4)
    both = np.concatenate([cue, a, b])
    assert len(set(both.tolist())) == 28 and both.max() < CFG.n_e
    with pytest.raises(ValueError, match="cue_frac"):
        ww.input_subsets(dataclasses.replace(CFG, cue_frac=0.9), np.random.default_rng(0))


def test_izhikevich_heterogeneity_follows_the_canonical_formulas():
    """E: a = 0.02, b = 0.2, c = -65 + 15 r^2, d = 8 - 6 r^2 (so d = 8 - 6 (c + 65) / 15);
    I: a = 0.02 + 0.08 r, b = 0.25 - 0.05 r (so b = 0.25 - 0.05 (a - 0.02) / 0.08), c = -65,
    d = 2; r ~ U(0, 1): the E mean of c is -65 + 15 / 3 = -60 (+- 0.1 for 20,000 neurons)."""
    n_e, n_i = 20000, 5000
    a, b, c, d = ww.izhikevich_heterogeneity(np.random.default_rng(0), n_e, n_i)
    np.testing.assert_array_equal(a[:n_e], 0.02)
    np.testing.assert_array_equal(b[:n_e], 0.2)
    np.testing.assert_allclose(d[:n_e], 8.0 - 6.0 * (c[:n_e] + 65.0) / 15.0, **EXACT)
    assert -65.0 <= c[:n_e].min() and c[:n_e].max() <= -50.0
    assert abs(c[:n_e].mean() + 60.0) < 0.1
    np.testing.assert_allclose(b[n_e:], 0.25 - 0.05 * (a[n_e:] - 0.02) / 0.08, **EXACT)
    assert 0.02 <= a[n_e:].min() and a[n_e:].max() <= 0.1
    np.testing.assert_array_equal(c[n_e:], -65.0)
    np.testing.assert_array_equal(d[n_e:], 2.0)


def test_recurrent_weights_signs_density_and_scale():
    """Mean E weight w_exc / 2 * 1000 / (N p), mean I weight -w_inh / 2 * 1000 / (N p), density p
    (N = 500, p = 0.2: 50,000 synapses; tolerances 5 standard errors)."""
    cfg = dataclasses.replace(CFG, n_e=400, n_i=100, p_conn=0.2, w_exc=0.4, w_inh=1.0)
    pre, post, S = ww.recurrent_weights(np.random.default_rng(0), cfg)
    n = 500
    density = S.size / n ** 2
    assert abs(density - 0.2) < 5 * np.sqrt(0.2 * 0.8 / n ** 2)
    scale = 1000.0 / (n * 0.2)
    exc = pre < 400
    assert (S[exc] >= 0).all() and (S[~exc] <= 0).all()
    for sel, w in ((exc, 0.4), (~exc, -1.0)):
        mean, se = S[sel].mean(), abs(w) * scale / np.sqrt(12 * sel.sum())
        assert abs(mean - w / 2 * scale) < 5 * se, (mean, w / 2 * scale)


def test_config_check_rejects_bad_protocols():
    with pytest.raises(ValueError, match="p_a"):
        dataclasses.replace(CFG, p_a=(0.8, 0.6)).check()                # 0.6 + 0.7 > 1
    with pytest.raises(ValueError, match="p_b"):
        dataclasses.replace(CFG, p_b=(0.2,)).check()
    with pytest.raises(ValueError, match="cue_mode"):
        dataclasses.replace(CFG, cue_mode="ramp").check()
    with pytest.raises(ValueError, match="eval_trials"):
        dataclasses.replace(CFG, eval_trials=4).check()


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------

def test_peak_error_linear_fit_and_convergence_counts():
    y = np.zeros(100)
    y[70], y[5] = 1.0, 2.0                       # the larger value lies before `start`
    assert ww.peak_error(y, stim_step=60, start=10, dt=0.5) == 5.0
    y[40] = 1.0                                  # ties: the first maximum
    assert ww.peak_error(y, stim_step=60, start=10, dt=1.0) == -20.0

    fit = ww.linear_fit([0.2, 0.8, 0.3, 0.7], [0.1, 0.4, 0.15, 0.35])    # y = x / 2 exactly
    assert fit["slope"] == pytest.approx(0.5, abs=1e-12)
    assert fit["intercept"] == pytest.approx(0.0, abs=1e-12)
    assert fit["corr"] == pytest.approx(1.0, abs=1e-12)
    fit = ww.linear_fit([0.0, 1.0, 2.0], [1.0, 0.0, 2.0])   # hand: slope 0.5, intercept 0.5, r 0.5
    got = (fit["slope"], fit["intercept"], fit["corr"])
    assert got == pytest.approx((0.5, 0.5, 0.5), abs=1e-12)
    assert np.isnan(ww.linear_fit([0.5, 0.5], [1.0, 2.0])["slope"])

    ok = [False, True, False, True, True, True, False]
    assert ww.trials_to_reconverge(ok, 3) == 4
    assert ww.trials_to_reconverge(ok, 1) == 2
    assert ww.trials_to_reconverge(ok, 4) is None
    values = [0.9, 0.5, 0.05, 0.9, 0.04, 0.03, 0.02]     # median of 3 ignores the outlier 0.9
    assert ww.trials_to_criterion(values, 0.05, 3) == 3            # median(0.05, 0.9, 0.04) = 0.05
    assert ww.trials_to_criterion(values, 0.045, 3) == 4           # median(0.9, 0.04, 0.03)
    assert ww.trials_to_criterion(values, 0.01, 3) is None


def test_weight_geometry_cosines_and_principal_angle():
    e = np.eye(4)
    g = ww.weight_geometry(e[0], np.stack([e[1], e[2]], axis=1))         # orthogonal
    assert g["angle_when_vs_what_span_deg"] == pytest.approx(90.0, abs=1e-9)
    assert (g["cos_when_A"], g["cos_when_B"], g["cos_A_B"]) == (0.0, 0.0, 0.0)
    g = ww.weight_geometry(e[1] + e[2], np.stack([e[1], e[2]], axis=1))  # inside the span
    assert g["angle_when_vs_what_span_deg"] == pytest.approx(0.0, abs=1e-6)
    assert g["cos_when_A"] == pytest.approx(1 / np.sqrt(2), abs=1e-12)
    assert g["cos_when_AminusB"] == pytest.approx(0.0, abs=1e-12)
    g = ww.weight_geometry(e[0] + e[3], np.stack([e[0], 2 * e[0] + e[1]], axis=1))
    assert g["angle_when_vs_what_span_deg"] == pytest.approx(45.0, abs=1e-9)  # e3 is off-span
    assert g["cos_when_B"] == pytest.approx(2 / np.sqrt(10), abs=1e-12)
    g = ww.weight_geometry(np.zeros(4), np.stack([e[0], e[1]], 1))
    assert np.isnan(g["angle_when_vs_what_span_deg"])


# ---------------------------------------------------------------------------------------------
# End to end (nj.simulate)
# ---------------------------------------------------------------------------------------------

def test_tiny_session_three_factor_when_learns_online_and_probes_match_offline_readouts():
    """40 E + 10 I neurons, weak coupling and no background noise (an input-driven, nearly
    deterministic reservoir), 8 cue groups, always stimulus A at 60 ms, 8 trials.
    (1) The online three-factor when readout learns: the held-out when MSE (weights learned
    before the trial) of trial 8 is below 10 % of trial 1's (all weights 0; measured 2.3 %).
    (2) The what readouts are offline (weights fixed within a trial, consolidated after it), so
    the held-out probe carrying their weights equals them step for step. (3) FORCE learns too
    (trial 8 below 10 % of trial 1; measured 1.5 %)."""
    cfg = dataclasses.replace(CFG, noise_e=0.0, noise_i=0.0, w_exc=0.05, w_inh=0.1,
                              latencies=(60.0,), p_a=(1.0,), p_b=(0.0,), trials_per_block=(8,),
                              target_sigma=20.0, cue_groups=8, cue_frac=0.6, cue_amp=20.0,
                              stim_amp=20.0, eta_when=1e-4, eta_what=5e-5)
    sess = ww.run_session(cfg)
    tf_held = sess["outputs"]["heldout"]["three_factor"]
    tf_online = sess["outputs"]["online"]["three_factor"]
    np.testing.assert_allclose(tf_held[:, :, 1:], tf_online[:, :, 1:], rtol=0, atol=1e-12)
    assert np.abs(tf_held[1:, :, 1]).max() > 0.05                     # the what-A readout moved
    err = ww.per_trial_errors(cfg, tf_held, sess["teach"], sess["stim_steps"])["when_mse"]
    zero = np.mean(sess["teach"][0, cfg.cue_step:, 0] ** 2)
    assert err[0] == pytest.approx(zero, rel=1e-12)                  # trial 1: weights still 0
    assert err[-1] < 0.1 * err[0], err / err[0]
    force = ww.per_trial_errors(cfg, sess["outputs"]["heldout"]["force"], sess["teach"],
                                sess["stim_steps"])["when_mse"]
    assert force[-1] < 0.1 * force[0], force / force[0]
    assert sess["rate_e"] > 1.0 and np.isfinite(sess["rate_i"])
