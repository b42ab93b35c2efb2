r"""'What' and 'when' predictions in a heterogeneous Izhikevich reservoir (Yamada & Chao 2025).

Reconstruction of the prediction task of Yamada & Chao, arXiv:2510.14382 (reservoirs.md §5), run
end to end through ``nj.simulate``: a heterogeneous Izhikevich spiking reservoir (Izhikevich
2003); one ``"when"`` readout trained **online** by the error-modulated, attention-gated
three-factor rule (``GatedErrorHebbian``) and two ``"what"`` readouts (identities A, B) trained by
the same rule **offline** (accumulated during a trial, ``consolidate`` after it); and, reading
the same reservoir in the same simulation, two FORCE baselines (``RLSReadout``, Sussillo &
Abbott 2009), each with a when and two what outputs: one never reset, one reset
(``reset_rule_state``: $P \leftarrow I/\alpha$) at the block switch. Nothing feeds back into
the reservoir, so the three methods are compared on identical spikes.

Only the abstract of the paper is public. Every choice it does not pin down is a ``Config``
field; the defaults are ours and were tuned as described at the end of this docstring.

**Reservoir.** ``n_e`` E + ``n_i`` I Izhikevich neurons, the paper's two-half-step Euler scheme
(``Izhikevich(method="izhikevich2003")``, dt = 1 ms), canonical heterogeneity with
$r \sim U(0,1)$ per neuron: E $a=0.02, b=0.2, c=-65+15r^2, d=8-6r^2$; I $a=0.02+0.08r,
b=0.25-0.05r, c=-65, d=2$. Current synapses (``Instant``, delay 1 step)
$S_{ij} = w_\mathrm{exc} U(0,1)$ from E and $-w_\mathrm{inh} U(0,1)$ from I, each pair present
with probability ``p_conn``, scaled by $1000/(N p_\mathrm{conn})$ so that the mean input matches
the canonical 800 + 200 all-to-all network. Background noise $5\,\mathcal N(0,1)$ (E) /
$2\,\mathcal N(0,1)$ (I) pA, fresh every step. ``w_exc`` = 0.4 instead of the canonical 0.5:
with 0.5 and the cue drive below, 9 of 30 trials contained population bursts (> 100 of the 500
neurons spiking in one step), which produced single trials with errors 10-100x the typical one
for every readout; with 0.4 there were none (0 of 30), E/I rates ~9 / 7 Hz.

**Trial** (``trial_steps`` steps; the reservoir state carries over from trial to trial): baseline
until the cue at ``cue_onset``; stimulus A (probability ``p_a``) or B (``p_b``; none with
$1 - p_a - p_b$) at latency $L$ after the cue: ``stim_amp`` pA for ``stim_ms`` into its own
random subset of E neurons (``stim_frac`` of E each).

*Cue.* ``cue_mode="sequence"`` (default): the cue starts a temporal-basis input: ``cue_groups``
subsets of E neurons (``cue_frac`` of E in all) each receive a Gaussian bump of ``cue_amp`` pA,
the bumps centred at evenly spaced times over ``[0, cue_span]`` after the cue (s.d. = half their
spacing), like the "high-dimensional temporal signal" of Nicola & Clopath (2017).
``cue_mode="pulse"``: one ``cue_pulse_ms`` pulse into ``cue_frac`` of E. We chose the sequence
because the noisy chaotic reservoir alone keeps no usable trace of a brief cue after ~200 ms:
with a 20 pA, 50 ms pulse into 20 % of E, a ridge readout (the best linear readout, fitted
offline on 40 trials, tested on 10 others) of a Gaussian bump 200 / 400 / 600 ms after the cue
reached test correlations 0.24 / -0.03 / 0.07; with a sequence of 10 bumps of 10 pA over
800 ms into 30 % of E, 0.73 / 0.70 / 0.75 (``w_exc`` = 0.5, target bump s.d. 25 ms). So
"when" here means: learn *which* of the reservoir's cue-locked states predict the stimulus;
the time code itself is input-driven.

*Teachers and gate* (:func:`trial_signals`). "when" teacher: a Gaussian pulse of height 1 and
s.d. ``target_sigma`` centred on the stimulus time $t_s = t_c + L$, on trials with a stimulus;
"what" teacher $k$: the same pulse on trials whose stimulus is $k$, else 0. So the least-squares
outputs peak at $t_s$ with amplitude $p_A + p_B$ (when), $p_A$ and $p_B$ (what) up to $t_s$,
where the identity is not yet known. Attention gate $G = 1$ from the cue to ``gate_post`` ms
after $t_s$ (default: to the end of the trial), 0 elsewhere (pre-cue baseline).

**Readouts.** Three-factor readouts are ``ClippedLinear`` units (output in [0, 1]) fed by the
reservoir spikes through ``Exponential(tau_s)`` synapses (delay 1):
$y_k(t) = \mathrm{clip}(\sum_j w_{kj} g_j(t))$, $g_j$ the exponentially filtered spike train;
$\Delta w_{kj} = \eta\, G\, (d_k - y_k)\, e_j$, $e_j \leftarrow e_j e^{-\Delta t/\tau_e} + s_j$
(``GatedErrorHebbian``, reservoirs.md §5.3). FORCE reads the same filtered trains through a
relay population (``ClippedLinear``, $r_j = \mathrm{clip}(c\, g_j)$, $c$ =
``force_trace_scale``; 0.35 % of the samples clip with the defaults) and ``Instant``
synapses (delay 1): ``RLSReadout(every=force_every, lag=1)``, $P(0) = I/\alpha$, no
forgetting (FORCE as published), updating all the time (FORCE has no gate). All learned
weights start at 0.

*Held-out outputs.* FORCE changes its weights within a trial, so its output while learning
partly tracks the teacher it is being fitted to. So that all methods are judged on predictions,
three plastic-free **probe** readouts (``probe_tf``, ``probe_force``, ``probe_force_reset``; same
synapses) get, before each trial, the weights the methods had learned up to that trial: their
output is the prediction for a trial none of the weights has been trained on. Block metrics
and (re-)convergence use these held-out outputs; online MSEs are reported too.

**Session.** Blocks of ``trials_per_block`` trials with latency ``latencies[b]`` and
probabilities ``p_a[b]``, ``p_b[b]`` (default: the switch after trial 60 changes both,
$L$: 300 -> 500 ms and $(p_A, p_B)$: (0.8, 0.2) -> (0.3, 0.7)).

**Metrics** (``results.json``; per method ``three_factor``, ``force``, ``force_reset``):

* learning curves per trial (held-out; online MSEs too): ``when_mse`` (when output vs teacher
  over ``[t_c, end)``), ``what_mse`` (both what outputs), ``peak_error_ms`` (argmax of the when
  output over ``[t_c, end)`` minus $t_s$);
* per block, over its last ``eval_trials`` trials: mean and median ``when_mse``, ``what_mse``;
  ``peak_error_ms`` of the trial-averaged when output and the median single-trial
  ``|peak error|``; ``when_amplitude`` and ``what_amplitude_A/B``: the trial-averaged outputs at
  $t_s$ (before the stimulus can reach them); ``when_at_previous_latency`` (after a switch:
  the when output at the old $t_s$; 0 when the old prediction is gone); across blocks,
  ``what_vs_p``: least-squares slope, intercept and Pearson correlation of the what amplitudes
  against the probabilities (ideal: slope 1, correlation 1);
* convergence, MSE criterion (:func:`trials_to_criterion`): threshold = ``conv_factor`` x the
  median held-out ``when_mse`` of the last ``eval_trials`` trials before the switch;
  ``initial_trials``: trials from the start until the median over a ``conv_window``-trial
  window first falls to the threshold; ``trials_to_reconverge_mse``: the same count from the
  switch. Peak criterion (:func:`trials_to_reconverge`): trials from the switch until the
  first run of ``conv_window`` trials whose single-trial ``|peak error|`` are all
  <= ``conv_tol_ms``. Counts start at 1; ``None`` (JSON null): not reached within the block;
* weight geometry at the end of every block: cosines between the when and each what weight
  vector, between when and the identity axis $w_A - w_B$, and the principal angle between the
  when vector and span($w_A$, $w_B$) (degrees);
* E and I rates of the reservoir (Hz), the fraction of clipped relay samples.

Plots: ``raster.png`` (one trial), ``readouts.png`` (held-out outputs averaged over
``eval_trials`` trials vs the probability-scaled teachers at the end of block 1, right after
the switch and at the end of block 2), ``learning_curves.png`` (held-out when MSE, peak error
and what MSE per trial for the three methods).

**Tuning** (default sizes, seed 0, held-out MSEs). First scanned on one recorded session
replayed into many readouts at once (running-mean criterion), then checked with full runs of
this script. Three-factor: ``eta_when`` 5e-6 / 1e-5 / 2e-5 (``tau_e`` = 20 ms) trades speed
against noise (scan: initial convergence 17 / 9 / 7 trials, re-convergence 28 / 14 / 10, block-1
MSE 0.0040 / 0.0048 / 0.0088); ``eta_what`` 2.5e-6 / 5e-6 / 1e-5 (offline: a whole trial's
change is applied at once, so it must be smaller than ``eta_when``); ``tau_e`` = 5 ms behaves
like 20 ms, while ``tau_e`` = 100 ms (``--tau-e 100 --eta-when 2e-6 --eta-what 1e-6``, same
$\eta\tau_e$) learns a broader, earlier hump: block-1 MSE 0.0069, initial convergence 23
trials, no re-convergence within the 60 trials of block 2 (0.0122 at its end). FORCE:
``force_alpha`` 1 / 10 / 100 gave block-1 MSE 0.0038 / 0.0037 / 0.0037 and, without reset,
0.0505 / 0.0497 / 0.0477 at the end of block 2 (with reset: re-convergence after 7 / 7 / 12
trials); ``force_every`` = 1 instead of 2 changes nothing (0.0038, 0.0499, 7). Before these
defaults (target s.d. 25 ms, 10 cue groups, 10 pA cue, 20 pA stimuli, ``w_exc`` = 0.5) the
three-factor readouts learned mostly the strong post-stimulus response (LMS learns the
high-variance directions first) and stayed far above FORCE (0.031-0.043 vs 0.009).
``--cue-mode pulse`` (all else default): no method learns a prediction (held-out when output
at $t_s$ 0.02-0.04 at the end of block 1; MSE 0.074-0.081, a silent readout's is 0.127).

**Outcome** (default run, seed 0; seed 1 and ``--no-x64`` agree within a few trials / ~10 %).
Before the switch the three-factor readouts and FORCE reach similar held-out errors (when MSE
0.0048 vs 0.0037, both converged after ~7 trials). After the switch FORCE without reset keeps
its old prediction (when output at the old stimulus time 0.31, at the new 0.29; when MSE 0.050
after 60 trials, 13x its pre-switch level: its RLS gain has shrunk as ~1/updates), while the
three-factor readout re-converges after 13 trials (old-time output 0.01, final MSE 0.0037) and
FORCE with reset after 7. So the abstract's claim holds here in its weak form: the
three-factor rule re-adapts where unreset FORCE does not, but a reset FORCE re-adapts faster
still. The what amplitudes follow the probabilities (three-factor slope 0.75, r = 0.99; FORCE
without reset r = 0.71 because block 2 is not re-learned). The when and what weight vectors are
**not** near-orthogonal (principal angle when vs span(what) 19-31 degrees for every method):
with these teachers the least-squares when readout is close to the sum of the what readouts;
only the identity axis $w_A - w_B$ is near-orthogonal to the when vector (|cos| <= 0.26).

Run: ``python experiments/what_when_reservoir.py --out results/what_when`` (``--smoke`` for a
tiny CI configuration).
"""
import dataclasses
import json
import os
import time
from typing import Optional

import numpy as np

METHODS = ("three_factor", "force", "force_reset")
KINDS = ("heldout", "online")


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = 0
    n_e: int = 400                       # excitatory Izhikevich neurons
    n_i: int = 100                       # inhibitory
    dt: float = 1.0                      # ms (the izhikevich2003 two-half-step scheme)
    w_exc: float = 0.4                   # pA  max E weight (canonical: 0.5; see the docstring)
    w_inh: float = 1.0                   # pA  max |I weight| of the canonical network
    p_conn: float = 1.0                  # connection probability (canonical: all-to-all)
    noise_e: float = 5.0                 # pA  s.d. of the per-step background noise, E
    noise_i: float = 2.0                 # pA  same, I
    cue_onset: float = 100.0             # ms  cue time within the trial window
    cue_mode: str = "sequence"           # "sequence" (temporal basis) or "pulse"
    cue_frac: float = 0.5                # fraction of E neurons receiving the cue
    cue_groups: int = 16                 # sequence: number of successive bumps
    cue_amp: float = 15.0                # pA  bump (or pulse) amplitude
    cue_span: float = 800.0              # ms  sequence: the last bump's centre after the cue
    cue_pulse_ms: float = 50.0           # ms  pulse mode: duration
    stim_frac: float = 0.1               # fraction of E neurons per stimulus identity
    stim_amp: float = 10.0               # pA
    stim_ms: float = 50.0                # ms
    latencies: tuple[float, ...] = (300.0, 500.0)      # ms, cue -> stimulus, per block
    p_a: tuple[float, ...] = (0.8, 0.3)                # P(stimulus A) per block
    p_b: tuple[float, ...] = (0.2, 0.7)                # P(stimulus B) per block
    trials_per_block: tuple[int, ...] = (60, 60)
    post_ms: float = 200.0               # ms  after the longest latency (trial end)
    target_sigma: float = 50.0           # ms  s.d. of the Gaussian teacher pulse
    gate_post: Optional[float] = None    # ms  gate closes this long after the stimulus time
                                         #     (None: open until the end of the trial)
    tau_s: float = 30.0                  # ms  readout trace / synapse time constant
    tau_e: float = 20.0                  # ms  eligibility time constant (three-factor)
    eta_when: float = 1e-5               # three-factor learning rate, when (online)
    eta_what: float = 5e-6               # three-factor learning rate, what (offline)
    force_alpha: float = 10.0            # FORCE P(0) = I / alpha
    force_every: int = 2                 # FORCE update interval (steps)
    force_trace_scale: float = 0.5       # relay r = clip(scale * g)
    eval_trials: int = 10                # trials at the end of a block for block metrics
    conv_window: int = 5                 # trials, (re-)convergence criteria
    conv_tol_ms: float = 50.0            # ms, peak-time criterion
    conv_factor: float = 1.5             # x pre-switch median MSE, MSE criterion
    raster_trial: Optional[int] = None   # trial to draw (None: the last before the switch)
    x64: bool = True                     # float64 (--no-x64: float32, same picture, measured)
    progress: bool = True
    out: str = "results/what_when"

    def smoke(self):
        return dataclasses.replace(self, n_e=80, n_i=20, latencies=(150.0, 250.0),
                                   trials_per_block=(4, 4), post_ms=100.0, cue_onset=50.0,
                                   cue_span=300.0, cue_groups=6, eval_trials=2, conv_window=2,
                                   progress=False)

    # derived quantities ------------------------------------------------------------------
    @property
    def n(self) -> int:
        return self.n_e + self.n_i

    @property
    def n_blocks(self) -> int:
        return len(self.latencies)

    @property
    def trial_steps(self) -> int:
        return int(round((self.cue_onset + max(self.latencies) + self.post_ms) / self.dt))

    @property
    def cue_step(self) -> int:
        return int(round(self.cue_onset / self.dt))

    def check(self):
        nb = self.n_blocks
        for name in ("p_a", "p_b", "trials_per_block"):
            if len(getattr(self, name)) != nb:
                raise ValueError(f"Config.{name} needs one value per block ({nb}), "
                                 f"got {getattr(self, name)}")
        for b in range(nb):
            pa, pb = self.p_a[b], self.p_b[b]
            if not (0 <= pa <= 1 and 0 <= pb <= 1 and pa + pb <= 1 + 1e-12):
                raise ValueError(f"Config.p_a/p_b: block {b} has p_a={pa}, p_b={pb}; need "
                                 "probabilities with p_a + p_b <= 1")
            if self.latencies[b] <= 0:
                raise ValueError(f"Config.latencies must be > 0 ms, got {self.latencies}")
        if self.cue_mode not in ("sequence", "pulse"):
            raise ValueError(f"Config.cue_mode must be 'sequence' or 'pulse', "
                             f"got {self.cue_mode!r}")
        if self.cue_mode == "sequence" and self.cue_groups < 2:
            raise ValueError(f"Config.cue_groups must be >= 2, got {self.cue_groups}")
        if min(self.trials_per_block) < 1 or self.eval_trials < 1 or self.conv_window < 1:
            raise ValueError("Config.trials_per_block, eval_trials and conv_window must be >= 1")
        if self.eval_trials > min(self.trials_per_block):
            raise ValueError(f"Config.eval_trials={self.eval_trials} exceeds the shortest block")
        for name in ("n_e", "n_i"):
            if getattr(self, name) < 1:
                raise ValueError(f"Config.{name} must be >= 1")
        for name in ("dt", "tau_s", "tau_e", "target_sigma", "force_alpha", "force_trace_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Config.{name} must be > 0, got {getattr(self, name)}")
        if not 0 < self.p_conn <= 1:
            raise ValueError(f"Config.p_conn must lie in (0, 1], got {self.p_conn}")
        return self


# -------------------------------------------------------------------------------------------
# Task construction (pure numpy; tested in tests/test_what_when.py)
# -------------------------------------------------------------------------------------------

def izhikevich_heterogeneity(rng, n_e: int, n_i: int):
    """Canonical Izhikevich (2003) parameters with ``r ~ U(0, 1)`` per neuron, E first.

    Returns ``(a, b, c, d)`` arrays of length ``n_e + n_i``.
    """
    re, ri = rng.random(n_e), rng.random(n_i)
    a = np.concatenate([np.full(n_e, 0.02), 0.02 + 0.08 * ri])
    b = np.concatenate([np.full(n_e, 0.2), 0.25 - 0.05 * ri])
    c = np.concatenate([-65.0 + 15.0 * re ** 2, np.full(n_i, -65.0)])
    d = np.concatenate([8.0 - 6.0 * re ** 2, np.full(n_i, 2.0)])
    return a, b, c, d


def recurrent_weights(rng, cfg: Config):
    r"""Edges ``(pre, post)`` and weights ``S`` (pA) of the recurrent reservoir.

    $S = w_\mathrm{exc} U(0,1)$ from E, $-w_\mathrm{inh} U(0,1)$ from I, each pair kept with
    probability ``p_conn``, all scaled by ``1000 / (N p_conn)``.
    """
    n = cfg.n
    keep = rng.random((n, n)) < cfg.p_conn
    mag = rng.random((n, n))
    sign_scale = np.where(np.arange(n) < cfg.n_e, cfg.w_exc, -cfg.w_inh)[:, None]
    S = sign_scale * mag * (1000.0 / (n * cfg.p_conn))
    pre, post = np.nonzero(keep)
    return pre, post, S[pre, post]


def schedule(cfg: Config, rng):
    """Per-trial block index, latency (ms) and identity (0 = A, 1 = B, -1 = none).

    Identities are drawn independently per trial: A with ``p_a[b]``, B with ``p_b[b]``.
    """
    blocks, lats, ids = [], [], []
    for b, n_tr in enumerate(cfg.trials_per_block):
        u = rng.random(n_tr)
        ident = np.where(u < cfg.p_a[b], 0, np.where(u < cfg.p_a[b] + cfg.p_b[b], 1, -1))
        blocks.append(np.full(n_tr, b))
        lats.append(np.full(n_tr, float(cfg.latencies[b])))
        ids.append(ident)
    return np.concatenate(blocks), np.concatenate(lats), np.concatenate(ids)


def trial_signals(cfg: Config, latency: float, identity: int) -> dict:
    """Teachers, gate and event steps of one trial (numpy arrays over the ``T`` steps).

    Returns:
        ``stim_step`` (int, $t_s = t_c + L$ in steps); ``when`` ``(T,)``: a Gaussian pulse of
        height 1 and s.d. ``target_sigma`` at ``stim_step`` if there is a stimulus
        (``identity`` 0 or 1), zeros otherwise; ``what`` ``(T, 2)``: the pulse in column
        ``identity``, zeros elsewhere; ``gate`` ``(T,)``: 1 on
        ``[cue_step, stim_step + gate_post)`` (to the end with ``gate_post=None``), else 0;
        ``stim_on`` ``(T,)``: 1 on the ``stim_ms`` from ``stim_step`` if there is a stimulus.
    """
    T, dt = cfg.trial_steps, cfg.dt
    t = np.arange(T)
    stim = cfg.cue_step + int(round(latency / dt))
    event = identity in (0, 1)
    pulse = np.exp(-0.5 * ((t - stim) * dt / cfg.target_sigma) ** 2)
    when = pulse if event else np.zeros(T)
    what = np.zeros((T, 2))
    if event:
        what[:, identity] = pulse
    stop = T if cfg.gate_post is None else stim + int(round(cfg.gate_post / dt))
    gate = ((t >= cfg.cue_step) & (t < stop)).astype(float)
    stim_on = ((t >= stim) & (t < stim + int(round(cfg.stim_ms / dt))) & event).astype(float)
    return dict(stim_step=stim, when=when, what=what, gate=gate, stim_on=stim_on)


def cue_drive(cfg: Config) -> np.ndarray:
    """``(T, n_cue)`` cue current (pA) of the cue-receiving E neurons (deterministic).

    ``sequence``: cue neuron ``i`` belongs to group ``i % cue_groups``; group ``g`` receives
    ``cue_amp * exp(-(t - t_c - mu_g)^2 / (2 s^2))`` for ``t >= t_c`` (0 before), with
    ``mu_g = g * cue_span / (cue_groups - 1)`` and ``s = cue_span / (cue_groups - 1) / 2``.
    ``pulse``: ``cue_amp`` on ``[t_c, t_c + cue_pulse_ms)``.
    """
    T, dt = cfg.trial_steps, cfg.dt
    n_cue = max(1, int(round(cfg.cue_frac * cfg.n_e)))
    tt = (np.arange(T) - cfg.cue_step) * dt                       # ms after the cue
    if cfg.cue_mode == "pulse":
        on = (tt >= 0) & (tt < cfg.cue_pulse_ms)
        return np.repeat((cfg.cue_amp * on)[:, None], n_cue, axis=1).astype(float)
    spacing = cfg.cue_span / (cfg.cue_groups - 1)
    centres = spacing * np.arange(cfg.cue_groups)
    bumps = cfg.cue_amp * np.exp(-0.5 * ((tt[:, None] - centres[None, :]) / (spacing / 2)) ** 2)
    bumps[tt < 0] = 0.0
    return bumps[:, np.arange(n_cue) % cfg.cue_groups]


def input_subsets(cfg: Config, rng):
    """Random disjoint E subsets: cue neurons, stimulus-A neurons, stimulus-B neurons."""
    n_cue = max(1, int(round(cfg.cue_frac * cfg.n_e)))
    n_stim = max(1, int(round(cfg.stim_frac * cfg.n_e)))
    if n_cue + 2 * n_stim > cfg.n_e:
        raise ValueError(f"Config: cue_frac + 2 stim_frac must be <= 1 (got {cfg.cue_frac} + "
                         f"2 x {cfg.stim_frac})")
    perm = rng.permutation(cfg.n_e)
    return perm[:n_cue], perm[n_cue:n_cue + n_stim], perm[n_cue + n_stim:n_cue + 2 * n_stim]


# -------------------------------------------------------------------------------------------
# Metrics (pure numpy; tested)
# -------------------------------------------------------------------------------------------

def peak_error(y, stim_step: int, start: int, dt: float) -> float:
    """``(argmax_{t >= start} y(t) - stim_step) * dt`` in ms (the first maximum)."""
    return float((start + int(np.argmax(np.asarray(y)[start:])) - stim_step) * dt)


def linear_fit(x, y) -> dict:
    """Least-squares ``y = slope x + intercept`` and Pearson correlation (NaN if undefined)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 2 or np.ptp(x) == 0:
        return dict(slope=float("nan"), intercept=float("nan"), corr=float("nan"))
    slope, intercept = np.polyfit(x, y, 1)
    corr = float(np.corrcoef(x, y)[0, 1]) if np.std(y) > 0 else float("nan")
    return dict(slope=float(slope), intercept=float(intercept), corr=corr)


def trials_to_reconverge(ok, window: int) -> Optional[int]:
    """1-based index of the first trial that starts a run of ``window`` consecutive True.

    ``ok[k]`` says whether trial ``k`` (0-based, counted from the switch) meets the
    criterion. ``None`` if there is no such run.
    """
    ok = np.asarray(ok, bool)
    for k in range(ok.size - window + 1):
        if ok[k:k + window].all():
            return k + 1
    return None


def trials_to_criterion(values, threshold: float, window: int) -> Optional[int]:
    """1-based index ``k`` of the first window ``values[k-1 : k-1+window]`` whose median is
    ``<= threshold`` (the median ignores single outlier trials). ``None`` if none."""
    v = np.asarray(values, float)
    for k in range(v.size - window + 1):
        if np.median(v[k:k + window]) <= threshold:
            return k + 1
    return None


def weight_geometry(w_when, w_what) -> dict:
    """Cosines between the when vector and the what vectors, and the principal angle.

    Args:
        w_when: ``(n,)``; w_what: ``(n, 2)`` (columns A, B).

    Returns:
        ``cos_when_A``, ``cos_when_B``, ``cos_A_B``, ``cos_when_AminusB`` and
        ``angle_when_vs_what_span_deg``: the principal angle between span(w_when) and
        span(w_A, w_B), ``arccos(|P w_when| / |w_when|)`` with ``P`` the orthogonal projector
        onto the what span (90: orthogonal, 0: inside it). NaN where a vector is zero.
    """
    def cos(u, v):
        nu, nv = np.linalg.norm(u), np.linalg.norm(v)
        return float(u @ v / (nu * nv)) if nu > 0 and nv > 0 else float("nan")

    w_when = np.asarray(w_when, float)
    w_what = np.asarray(w_what, float)
    out = dict(cos_when_A=cos(w_when, w_what[:, 0]), cos_when_B=cos(w_when, w_what[:, 1]),
               cos_A_B=cos(w_what[:, 0], w_what[:, 1]),
               cos_when_AminusB=cos(w_when, w_what[:, 0] - w_what[:, 1]))
    nw = np.linalg.norm(w_when)
    if nw == 0 or np.linalg.norm(w_what) == 0:
        out["angle_when_vs_what_span_deg"] = float("nan")
    else:
        q, sv, _ = np.linalg.svd(w_what, full_matrices=False)
        q = q[:, sv > sv[0] * 1e-10]
        frac = min(1.0, float(np.linalg.norm(q.T @ w_when) / nw))
        out["angle_when_vs_what_span_deg"] = float(np.degrees(np.arccos(frac)))
    return out


# -------------------------------------------------------------------------------------------
# Network
# -------------------------------------------------------------------------------------------


# learned projection(s) -> probe projection (held-out copy); columns: when, what A, what B
PROBES = {"probe_tf": ("ro_when", "ro_what"), "probe_force": ("ro_force",),
          "probe_force_reset": ("ro_force_reset",)}
OUTPUTS = {"three_factor": (("tf_when", "tf_what"), "probe_tf"),
           "force": (("force",), "probe_force"),
           "force_reset": (("force_reset",), "probe_force_reset")}


def build(cfg: Config, rng):
    """The network and its params.

    Populations: ``res`` (Izhikevich, N), ``relay`` (ClippedLinear, N); learned outputs
    ``tf_when`` (1), ``tf_what`` (2), ``force`` and ``force_reset`` (3 each: when, A, B);
    held-out probes ``probe_tf``, ``probe_force``, ``probe_force_reset`` (3 each); teachers
    ``d_when`` (1), ``d_what`` (2), ``d_all`` (3) and ``gate`` (1), SpikeSources whose value is
    the input of the step.
    """
    import neurojax as nj
    from neurojax.plasticity.three_factor import (GatedErrorHebbian, GatedErrorHebbianParams,
                                                  RLSReadout, RLSReadoutParams)

    n = cfg.n
    a, b, c, d = izhikevich_heterogeneity(rng, cfg.n_e, cfg.n_i)
    pre, post, S = recurrent_weights(rng, cfg)
    rec_conn, rec_w = nj.from_edges(pre, post, n, n, S)
    exp_syn, inst = nj.Exponential(), nj.Instant()
    lin = nj.ClippedLinear()
    pops = {"res": nj.Population(nj.Izhikevich(method="izhikevich2003"), n),
            "relay": nj.Population(lin, n),
            "tf_when": nj.Population(lin, 1), "tf_what": nj.Population(lin, 2),
            "force": nj.Population(lin, 3), "force_reset": nj.Population(lin, 3),
            "d_when": nj.Population(nj.SpikeSource(), 1),
            "d_what": nj.Population(nj.SpikeSource(), 2),
            "d_all": nj.Population(nj.SpikeSource(), 3),
            "gate": nj.Population(nj.SpikeSource(), 1)}
    for probe in PROBES:
        pops[probe] = nj.Population(lin, 3)
    rls = RLSReadout(teacher="d_all", pre_field="r", output_field="r", every=cfg.force_every, lag=1)
    projs = {
        "rec": nj.Projection(rec_conn, "res", "res", receptor="i", synapse=inst,
                             max_events=n // 20 + 32),
        "to_relay": nj.Projection(nj.from_edges(np.arange(n), np.arange(n), n, n), "res", "relay",
                                  receptor="i", synapse=exp_syn),
        "ro_when": nj.Projection(nj.all_to_all(n, 1), "res", "tf_when", receptor="i", synapse=exp_syn,
                                 plasticity=GatedErrorHebbian(teacher="d_when", gate="gate"),
                                 modulators=("d_when", "gate")),
        "ro_what": nj.Projection(nj.all_to_all(n, 2), "res", "tf_what", receptor="i", synapse=exp_syn,
                                 plasticity=GatedErrorHebbian(teacher="d_what", gate="gate",
                                                              offline=True),
                                 modulators=("d_what", "gate")),
        "ro_force": nj.Projection(nj.all_to_all(n, 3), "relay", "force", receptor="i", synapse=inst,
                                  source="r", plasticity=rls, modulators=("d_all",)),
        "ro_force_reset": nj.Projection(nj.all_to_all(n, 3), "relay", "force_reset", receptor="i",
                                        synapse=inst, source="r", plasticity=rls,
                                        modulators=("d_all",)),
        "pr_tf": nj.Projection(nj.all_to_all(n, 3), "res", "probe_tf", receptor="i", synapse=exp_syn),
        "pr_force": nj.Projection(nj.all_to_all(n, 3), "relay", "probe_force", receptor="i",
                                  synapse=inst, source="r"),
        "pr_force_reset": nj.Projection(nj.all_to_all(n, 3), "relay", "probe_force_reset",
                                        receptor="i", synapse=inst, source="r"),
    }
    net = nj.Network(pops, projs, dt=cfg.dt)
    syn = nj.ExponentialParams.default(tau=cfg.tau_s)
    ghp = dict(tau_s=cfg.tau_s, tau_e=cfg.tau_e)
    force_p = RLSReadoutParams.default(alpha=cfg.force_alpha)
    params = nj.init_params(net, {
        "res": nj.IzhikevichParams.default(a=a, b=b, c=c, d=d),
        "rec": rec_w,
        "to_relay": {"w": cfg.force_trace_scale, "syn": syn},
        "ro_when": {"w": np.zeros((n, 1)), "syn": syn,
                    "plast": GatedErrorHebbianParams.default(eta=cfg.eta_when, **ghp)},
        "ro_what": {"w": np.zeros((n, 2)), "syn": syn,
                    "plast": GatedErrorHebbianParams.default(eta=cfg.eta_what, **ghp)},
        "ro_force": {"w": np.zeros((n, 3)), "plast": force_p},
        "ro_force_reset": {"w": np.zeros((n, 3)), "plast": force_p},
        "pr_tf": {"w": np.zeros((n, 3)), "syn": syn},
        "pr_force": np.zeros((n, 3)),
        "pr_force_reset": np.zeros((n, 3)),
    })
    return net, params


def learned_weights(params, state, proj: str) -> np.ndarray:
    """``(N, k)`` current weights ``w + dw`` of an all-to-all learned readout projection."""
    return np.asarray(params[proj].w) + np.asarray(state.projs[proj].dw)


def method_weights(params, state) -> dict:
    """``method -> (N, 3)`` learned weights (columns when, what A, what B)."""
    return {"three_factor": np.concatenate([learned_weights(params, state, "ro_when"),
                                            learned_weights(params, state, "ro_what")], axis=1),
            "force": learned_weights(params, state, "ro_force"),
            "force_reset": learned_weights(params, state, "ro_force_reset")}


def with_probe_weights(params: dict, weights: dict) -> dict:
    """``params`` with the probe projections' weights set to the learned ``weights``."""
    import jax.numpy as jnp

    out = dict(params)
    for proj, m in (("pr_tf", "three_factor"), ("pr_force", "force"),
                    ("pr_force_reset", "force_reset")):
        out[proj] = out[proj]._replace(w=jnp.asarray(weights[m], out[proj].w.dtype))
    return out


RECORD_FIELDS = (("tf_when", "r"), ("tf_what", "r"), ("force", "r"), ("force_reset", "r"),
                 ("probe_tf", "r"), ("probe_force", "r"), ("probe_force_reset", "r"),
                 ("res", "spike"), ("relay", "r"))


# -------------------------------------------------------------------------------------------
# Session
# -------------------------------------------------------------------------------------------

def run_session(cfg: Config) -> dict:
    """Simulate every trial (one ``nj.simulate`` call each, one compile, state carried over)
    and collect the online and held-out outputs, teachers, spike counts and weights."""
    import jax
    import neurojax as nj
    from neurojax.plasticity.three_factor import consolidate, reset_rule_state

    cfg.check()
    rng = np.random.default_rng(cfg.seed)
    net, params = build(cfg, rng)
    cue_idx, a_idx, b_idx = input_subsets(cfg, rng)
    blocks, lats, ids = schedule(cfg, rng)
    n_trials, T, N = len(blocks), cfg.trial_steps, cfg.n
    cue = cue_drive(cfg)
    noise_sd = np.concatenate([np.full(cfg.n_e, cfg.noise_e), np.full(cfg.n_i, cfg.noise_i)])
    switches = set(np.cumsum(cfg.trials_per_block)[:-1].tolist())
    raster_trial = (cfg.trials_per_block[0] - 1) if cfg.raster_trial is None else cfg.raster_trial
    record = nj.Record(*RECORD_FIELDS)

    state = nj.init_state(net, params)
    outputs = {kind: {m: np.zeros((n_trials, T, 3)) for m in METHODS} for kind in KINDS}
    teach = np.zeros((n_trials, T, 3))
    stim_steps = np.zeros(n_trials, int)
    counts = np.zeros(N)
    clipped = 0.0
    raster = None
    block_end_weights = []
    bar = None
    if cfg.progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=n_trials, unit="trial", desc="what/when session")
    t_start = time.perf_counter()
    for k in range(n_trials):
        if k in switches:
            state = reset_rule_state(net, params, state, "ro_force_reset")
        probe_params = with_probe_weights(params, method_weights(params, state))
        sig = trial_signals(cfg, lats[k], int(ids[k]))
        x = noise_sd * rng.standard_normal((T, N))
        x[:, cue_idx] += cue
        if ids[k] in (0, 1):
            x[:, a_idx if ids[k] == 0 else b_idx] += cfg.stim_amp * sig["stim_on"][:, None]
        d_all = np.concatenate([sig["when"][:, None], sig["what"]], axis=1)
        inputs = {"res": x, "d_when": sig["when"][:, None], "d_what": sig["what"],
                  "d_all": d_all, "gate": sig["gate"][:, None]}
        state, rec = nj.simulate(net, probe_params, state, inputs, record=record)
        state = consolidate(net, state, "ro_what")
        rec = jax.tree.map(np.asarray, rec)
        for m, (online_pops, probe) in OUTPUTS.items():
            outputs["online"][m][k] = np.concatenate([rec[p]["r"] for p in online_pops], axis=1)
            outputs["heldout"][m][k] = rec[probe]["r"]
        teach[k] = d_all
        stim_steps[k] = sig["stim_step"]
        spk = rec["res"]["spike"]
        counts += spk.sum(axis=0)
        clipped += float((rec["relay"]["r"] >= 1.0).mean())
        if k == raster_trial:
            raster = spk.copy()
        if k + 1 in switches or k + 1 == n_trials:
            block_end_weights.append(method_weights(params, state))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    nj.check_finite(state)
    wall = time.perf_counter() - t_start
    seconds = n_trials * T * cfg.dt / 1000.0
    return dict(outputs=outputs, teach=teach, stim_steps=stim_steps, blocks=blocks, lats=lats,
                ids=ids, rate_e=float(counts[:cfg.n_e].sum() / cfg.n_e / seconds),
                rate_i=float(counts[cfg.n_e:].sum() / cfg.n_i / seconds),
                relay_clipped_fraction=clipped / n_trials, raster=raster,
                raster_trial=raster_trial, weights=block_end_weights, session_seconds=wall)


def per_trial_errors(cfg: Config, y: np.ndarray, teach: np.ndarray, stim_steps) -> dict:
    """Per-trial ``when_mse``, ``what_mse`` (over ``[cue_step, T)``) and ``peak_error_ms``
    of outputs ``y`` ``(n_trials, T, 3)`` against ``teach`` (same shape)."""
    start = cfg.cue_step
    err = (y[:, start:, :] - teach[:, start:, :]) ** 2
    return dict(when_mse=err[:, :, 0].mean(axis=1), what_mse=err[:, :, 1:].mean(axis=(1, 2)),
                peak_error_ms=np.array([peak_error(y[k, :, 0], stim_steps[k], start, cfg.dt)
                                        for k in range(len(y))]))


def analyse(cfg: Config, sess: dict) -> dict:
    """Block metrics, (re-)convergence and weight geometry (see the module docstring)."""
    ends = np.cumsum(cfg.trials_per_block)
    starts = ends - np.asarray(cfg.trials_per_block)
    K, W = cfg.eval_trials, cfg.conv_window
    res = {}
    for m in METHODS:
        y = sess["outputs"]["heldout"][m]
        e = per_trial_errors(cfg, y, sess["teach"], sess["stim_steps"])
        eo = per_trial_errors(cfg, sess["outputs"]["online"][m], sess["teach"], sess["stim_steps"])
        blocks, amps, probs = [], [], []
        for b in range(cfg.n_blocks):
            sl = slice(ends[b] - K, ends[b])
            stim = cfg.cue_step + int(round(cfg.latencies[b] / cfg.dt))
            mean_y = y[sl].mean(axis=0)
            what_amp = [float(mean_y[stim, 1]), float(mean_y[stim, 2])]
            amps += what_amp
            probs += [cfg.p_a[b], cfg.p_b[b]]
            row = dict(
                latency_ms=cfg.latencies[b], p_a=cfg.p_a[b], p_b=cfg.p_b[b],
                when_mse=float(e["when_mse"][sl].mean()),
                when_mse_median=float(np.median(e["when_mse"][sl])),
                what_mse=float(e["what_mse"][sl].mean()),
                when_mse_online=float(eo["when_mse"][sl].mean()),
                what_mse_online=float(eo["what_mse"][sl].mean()),
                peak_error_ms=peak_error(mean_y[:, 0], stim, cfg.cue_step, cfg.dt),
                median_abs_peak_error_ms=float(np.median(np.abs(e["peak_error_ms"][sl]))),
                when_amplitude=float(mean_y[stim, 0]),
                what_amplitude_A=what_amp[0], what_amplitude_B=what_amp[1],
                weights=weight_geometry(sess["weights"][b][m][:, 0], sess["weights"][b][m][:, 1:]))
            if b > 0:
                old = cfg.cue_step + int(round(cfg.latencies[b - 1] / cfg.dt))
                row["when_at_previous_latency"] = float(mean_y[old, 0])
            blocks.append(row)
        ref0 = float(np.median(e["when_mse"][ends[0] - K:ends[0]]))
        conv = dict(threshold=cfg.conv_factor * ref0,
                    initial_trials=trials_to_criterion(e["when_mse"][:ends[0]],
                                                       cfg.conv_factor * ref0, W))
        reconv = []
        for b in range(1, cfg.n_blocks):
            post = slice(starts[b], ends[b])
            ref = float(np.median(e["when_mse"][ends[b - 1] - K:ends[b - 1]]))
            reconv.append(dict(
                switch_after_trial=int(ends[b - 1]), pre_switch_when_mse_median=ref,
                threshold=cfg.conv_factor * ref,
                mse_criterion=trials_to_criterion(e["when_mse"][post], cfg.conv_factor * ref, W),
                peak_criterion=trials_to_reconverge(
                    np.abs(e["peak_error_ms"][post]) <= cfg.conv_tol_ms, W),
                first_window_when_mse=float(e["when_mse"][starts[b]:starts[b] + W].mean())))
        res[m] = dict(blocks=blocks, what_vs_p=linear_fit(probs, amps), convergence=conv,
                      reconvergence=reconv,
                      curves=dict(heldout={k: v.tolist() for k, v in e.items()},
                                  online={k: eo[k].tolist() for k in ("when_mse", "what_mse")}))
    return res


# -------------------------------------------------------------------------------------------
# Plots
# -------------------------------------------------------------------------------------------

LABELS = {"three_factor": "three-factor (when online, what offline)",
          "force": "FORCE (no reset)", "force_reset": "FORCE (reset at switch)"}


def plot(cfg: Config, sess: dict, ana: dict, out_dir: str) -> dict:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import neurojax as nj

    paths = {}
    if sess["raster"] is not None:
        k = sess["raster_trial"]
        paths["raster_png"] = nj.plotting.raster(
            sess["raster"], cfg.dt, os.path.join(out_dir, "raster.png"),
            groups={"E": (0, cfg.n_e), "I": (cfg.n_e, cfg.n)},
            title=f"reservoir, trial {k}: cue at {cfg.cue_onset:g} ms, stimulus at "
                  f"{cfg.cue_onset + sess['lats'][k]:g} ms")

    ends = np.cumsum(cfg.trials_per_block)
    K = cfg.eval_trials
    t = np.arange(cfg.trial_steps) * cfg.dt
    phases = [("end of block 1", slice(ends[0] - K, ends[0]), 0)]
    if cfg.n_blocks > 1:
        phases += [("first trials after the switch", slice(ends[0], ends[0] + K), 1),
                   ("end of block 2", slice(ends[1] - K, ends[1]), 1)]
    colors = ["tab:blue", "tab:orange", "tab:green"]
    fig, axes = plt.subplots(len(METHODS), 3, figsize=(12, 8), sharex=True, sharey=True)
    for i, m in enumerate(METHODS):
        y = sess["outputs"]["heldout"][m]
        for j, name in enumerate(("when", "what A", "what B")):
            ax = axes[i, j]
            for (label, sl, b), col in zip(phases, colors):
                ax.plot(t, y[sl, :, j].mean(axis=0), color=col, lw=1.2, label=label)
                p = (cfg.p_a[b] + cfg.p_b[b], cfg.p_a[b], cfg.p_b[b])[j]
                stim = cfg.cue_step + int(round(cfg.latencies[b] / cfg.dt))
                pulse = np.exp(-0.5 * ((np.arange(cfg.trial_steps) - stim) * cfg.dt
                                       / cfg.target_sigma) ** 2)
                ax.plot(t, p * pulse, color=col, lw=0.8, ls="--")
            if i == 0:
                ax.set_title(f"{name}: held-out output, mean of {K} trials\n"
                             "(dashed: probability x teacher)", fontsize=9)
            if j == 0:
                ax.set_ylabel(LABELS[m], fontsize=8)
            if i == len(METHODS) - 1:
                ax.set_xlabel("time in trial (ms)")
    axes[0, 0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    paths["readouts_png"] = os.path.join(out_dir, "readouts.png")
    fig.savefig(paths["readouts_png"], dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    trials = np.arange(len(sess["blocks"]))
    for m in METHODS:
        c = ana[m]["curves"]["heldout"]
        axes[0].semilogy(trials, c["when_mse"], lw=1, label=LABELS[m])
        axes[1].plot(trials, np.clip(c["peak_error_ms"], -400, 400), ".-", lw=0.6, ms=3)
        axes[2].semilogy(trials, c["what_mse"], lw=1)
    for ax in axes:
        for s in ends[:-1]:
            ax.axvline(s - 0.5, color="k", lw=0.8, ls=":")
    axes[1].axhspan(-cfg.conv_tol_ms, cfg.conv_tol_ms, color="0.9")
    axes[0].set_ylabel("when MSE (held-out)")
    axes[1].set_ylabel("when peak - stimulus (ms)")
    axes[2].set_ylabel("what MSE (held-out)")
    axes[2].set_xlabel("trial (dotted: block switch)")
    axes[0].legend(fontsize=8, frameon=False)
    fig.tight_layout()
    paths["learning_curves_png"] = os.path.join(out_dir, "learning_curves.png")
    fig.savefig(paths["learning_curves_png"], dpi=110)
    plt.close(fig)
    return paths


# -------------------------------------------------------------------------------------------

def run(cfg: Config) -> dict:
    import jax

    if cfg.x64:
        jax.config.update("jax_enable_x64", True)
    os.makedirs(cfg.out, exist_ok=True)
    t0 = time.perf_counter()
    sess = run_session(cfg)
    ana = analyse(cfg, sess)
    metrics = dict(rate_e_hz=sess["rate_e"], rate_i_hz=sess["rate_i"],
                   relay_clipped_fraction=sess["relay_clipped_fraction"],
                   n_trials=int(len(sess["blocks"])), trial_steps=cfg.trial_steps,
                   session_seconds=sess["session_seconds"])
    for m in METHODS:
        a = ana[m]
        first, last = a["blocks"][0], a["blocks"][-1]
        metrics[f"{m}_block1_when_mse"] = first["when_mse"]
        metrics[f"{m}_final_when_mse"] = last["when_mse"]
        metrics[f"{m}_final_peak_error_ms"] = last["peak_error_ms"]
        metrics[f"{m}_initial_trials_to_converge"] = a["convergence"]["initial_trials"]
        if a["reconvergence"]:
            metrics[f"{m}_trials_to_reconverge_mse"] = a["reconvergence"][0]["mse_criterion"]
            metrics[f"{m}_trials_to_reconverge_peak"] = a["reconvergence"][0]["peak_criterion"]
        metrics[f"{m}_what_slope"] = a["what_vs_p"]["slope"]
        metrics[f"{m}_what_corr"] = a["what_vs_p"]["corr"]
        angle = last["weights"]["angle_when_vs_what_span_deg"]
        metrics[f"{m}_final_angle_when_vs_what_deg"] = angle
    metrics["methods"] = ana
    metrics["schedule"] = dict(block=sess["blocks"], latency_ms=sess["lats"], identity=sess["ids"])
    metrics.update(plot(cfg, sess, ana, cfg.out))
    metrics["wall_seconds"] = time.perf_counter() - t0
    return metrics


def summary(metrics: dict) -> dict:
    """The top-level scalar metrics (printed by ``main``)."""
    return {k: v for k, v in metrics.items()
            if isinstance(v, (int, float, type(None))) and not isinstance(v, bool)}


def main(argv=None):
    import _cli  # experiments/ is on sys.path when this file runs as a script

    cfg = _cli.parse(Config, argv)
    metrics = run(cfg)
    path = _cli.save_results(cfg, metrics)
    print(json.dumps(summary(metrics), indent=1))
    for m in METHODS:
        for b in metrics["methods"][m]["blocks"]:
            print(m, json.dumps({k: (round(v, 4) if isinstance(v, float) else v)
                                 for k, v in b.items()}))
        print(m, "what_vs_p", json.dumps(metrics["methods"][m]["what_vs_p"]))
        print(m, "convergence", json.dumps(metrics["methods"][m]["convergence"]),
              "reconvergence", json.dumps(metrics["methods"][m]["reconvergence"]))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
