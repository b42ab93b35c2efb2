r"""Liquid state machines on a 3-D grid: the NALSM family (Ivanov & Michmizos 2021) as library pieces.

A *liquid* is a ``d1 x d2 x d3`` grid of discrete-time LIF neurons (80 % E / 20 % I) with
distance-dependent recurrent synapses, driven through a sparse random projection by a
population of input neurons (spec nalsm_astro.md §1.3–1.7). Four models share that liquid:

| model            | initial $w$ | phase 1 (weights carry over) | phase 2 (250 ms per sample)    |
|------------------|-------------|------------------------------|--------------------------------|
| ``"lsm"``        | $w$ (swept) | none                         | static                         |
| ``"lsm_stdp"``   | 3           | symmetric STDP ($A = \eta$)  | symmetric STDP, rates x0.99/ms |
| ``"lsm_apstdp"`` | 1           | activity-dependent STDP      | static (frozen $W_{INI}$)      |
| ``"nalsm"``      | 3           | astrocyte-modulated STDP     | astrocyte STDP, rates x0.99/ms |

($w$ is the magnitude of every liquid and input synapse: $+w$ from E, $-w$ from I, $\pm w$
from inputs.)

The pieces, in protocol order (spec §1.8):

1. :func:`build_liquid` — the connectome and the two networks (phase 1 and phase 2);
2. :func:`warmup` — phase 1: 20 ms snapshots with every state reset per snapshot and the
   plastic change absorbed into the weights after each (so the weights carry over), in
   jitted chunks with a progress bar; returns $W_\mathrm{INI}$;
3. :func:`sample_features` — phase 2: every sample starts from $W_\mathrm{INI}$ and a fresh
   state, runs 250 ms (with in-sample plasticity for ``lsm_stdp``/``nalsm``, each sample
   keeping its own sparse ``(n_pre, k)`` plastic change ``dw``), ``vmap`` over a batch;
   the features are the spike counts of the liquid neurons;
4. :func:`branching_factor` (§1.10) and :func:`kernel_rank` (§1.11) on the liquid's rasters
   and counts;
5. :func:`train_readout` — the linear softmax readout (§1.8).

Examples:
    >>> import jax, numpy as np
    >>> from neurojax import lsm
    >>> liq = lsm.build_liquid(jax.random.PRNGKey(0), (2, 2, 2), 4, lsm.LiquidConfig(model="nalsm"))
    >>> x = np.full((3, 4), 0.5)                              # spike probability per ms
    >>> w_ini, diag = lsm.warmup(liq, x, jax.random.PRNGKey(1), progress=False)   # 3 x 20 ms
    >>> counts, rasters, info = lsm.sample_features(liq, w_ini, x[:2], jax.random.PRNGKey(2),
    ...                                             sample_ms=50, raster_indices=[1], progress=False)
    >>> counts.shape, rasters.shape, bool(rasters[0].sum(axis=0).tolist() == counts[1].tolist())
    ((2, 8), (1, 50, 8), True)

Everything runs on :func:`neurojax.simulate` with :class:`~neurojax.DiscreteLIF`,
:class:`~neurojax.ResetKernel` + :class:`~neurojax.Instant` synapses,
:class:`~neurojax.plasticity.AstrocyteSTDP` / :class:`~neurojax.plasticity.ActivityDependentSTDP`
and :class:`~neurojax.LeakyIntegratorAstrocyte` (the wiring that ``tests/test_nalsm.py``
checks against a NumPy transcription of the reference loop).

**Time convention.** The reference loop spikes before it integrates; neurojax delivers with one
step of delay, so neurojax's step $n$ is the reference's step $n+1$ (spike ``[n]`` here is the
reference's $s(n+1)$; its $s(0)$ is always 0; see :mod:`neurojax.plasticity.nalsm`). A
reference run of $T$ ms is therefore $T - 1$ neurojax steps on the inputs of reference steps
$0 \dots T-2$; rasters are returned in reference time (row 0 = $s(0) = 0$), so a 250 ms
sample gives a ``(250, N)`` raster whose row $t$ is the reference's $s(t)$. At the end of a
phase-1 snapshot the rule's pending change (the reference's plasticity of its last step) is
applied before the weights are absorbed, so phase 1 equals the reference's sequence of
snapshots exactly.

Units: ms (``dt = 1``), membrane in the model's units ($\theta = 20$), weights in the same
units per ms (an input spike of weight $w$ adds $w$ to $v$). Index layout of the liquid:
excitatory neurons ``[0, N_E)``, inhibitory ``[N_E, N)``; positions are a random permutation
of the grid points.

References:
    Ivanov & Michmizos (2021), "Increasing liquid state machine performance with
    edge-of-chaos dynamics organized by astrocyte-modulated plasticity", NeurIPS 34.
"""
import dataclasses
import functools
import math
import time
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from neurojax._params import check_int, float_dtype
from neurojax.astrocytes import LeakyIntegratorAstrocyte
from neurojax.connectivity import (NALSM_C, Connectivity, distance_based, fixed_total,
                                   from_edges, grid_positions, numpy_rng)
from neurojax.kernels import pair_update_reference
from neurojax.network import Network, Population, init_params, init_state
from neurojax.neurons import DiscreteLIF
from neurojax.plasticity.base import absorb_plasticity
from neurojax.plasticity.nalsm import ActivityDependentSTDP, AstrocyteSTDP
from neurojax.projections import Projection
from neurojax.simulate import simulate
from neurojax.synapses import Instant, ResetKernel

Array = jax.Array

__all__ = ["MODELS", "LIQUID_PROJECTIONS", "LiquidConfig", "Liquid", "build_liquid",
           "liquid_params", "initial_state", "warmup", "sample_features", "recurrent_adjacency",
           "branching_factor", "kernel_rank", "normalize_counts", "soft_targets",
           "readout_loss", "train_readout"]

#: the four models of Ivanov & Michmizos (2021) (spec §1.9)
MODELS = ("lsm", "lsm_stdp", "lsm_apstdp", "nalsm")
#: the liquid's synaptic projections: input -> liquid, excitatory and inhibitory recurrent
LIQUID_PROJECTIONS = ("inp->L", "E->L", "I->L")
_PRE = {"inp->L": "inp", "E->L": "L", "I->L": "L"}


# ---------------------------------------------------------------------------------------------
# Construction
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LiquidConfig:
    r"""Hyper-parameters of a NALSM-family liquid (defaults: spec §1.12, NALSM 1000).

    | field          | symbol          | default | unit / meaning                           |
    |----------------|-----------------|---------|------------------------------------------|
    | model          | —               | "nalsm" | one of :data:`MODELS`                    |
    | w              | $w$             | None    | initial magnitude (None: see below)      |
    | w_max          | $w_\max$        | 3.0     | bounds E [0, w_max], I [-w_max, 0], input [-w_max, w_max] |
    | eta0           | $\eta_0$        | 0.15    | potentiation rate; also $A_0$            |
    | astro_weight   | $w_A$           | 0.015   | astrocyte gain (0.0075 for 8000 neurons) |
    | astro_density  | —               | 1.0     | fraction of neurons on the astrocyte     |
    | astro_tau      | $\tau_A$        | 100.0   | ms                                       |
    | astro_offset   | —               | 0.0     | $b_A = \eta_0 (1 + \mathrm{offset})$     |
    | sample_decay   | —               | 0.99    | per ms, on $\eta, A, w_A, b_A$ (phase 2) |
    | c_theta        | $C_\theta$      | 37.0    | Hz, AP-STDP gate centre                  |
    | delta_c        | $\Delta C$      | 22.0    | Hz, AP-STDP gate half-width              |
    | tau_c          | $\tau_C$        | 1000.0  | ms, AP-STDP activity time constant       |
    | input_density  | —               | 0.15    | ``floor(N n_in density)`` input synapses |
    | input_current  | —               | 100.0   | current per input event (input neurons)  |
    | lam            | $\lambda$       | 3.0     | grid units                               |
    | c_matrix       | $C$             | NALSM_C | ``C[type_pre][type_post]``, E 0, I 1     |
    | exc_fraction   | —               | 0.8     | $N_E = \mathrm{round}(0.8 N)$            |
    | learn_events   | —               | None    | event capacity of the plastic updates    |

    ``w = None`` means $w_\max$ for ``"nalsm"`` and ``"lsm_stdp"`` (start at the maximum) and
    1 for ``"lsm"`` and ``"lsm_apstdp"``. ``astro_density`` is the fraction of liquid neurons
    and of input neurons connected to the astrocyte (Fig. 4 ablation; 1 in the main results).
    ``learn_events`` makes the STDP updates event-driven (``Projection(learn_events=...)``:
    per step only the synapses of neurons that spiked are touched, in place, with extra exact
    passes when more than that many spike); ``None`` updates every synapse every step. The
    results are the same either way (bit for bit); only the speed differs. At NALSM's
    activity (~6 % of the neurons spike in a 1 ms step) the dense update is faster on CPU, so
    it is the default; the event path pays below ~2 % per step (``docs/benchmarks.md``).
    """

    model: str = "nalsm"
    w: Optional[float] = None
    w_max: float = 3.0
    eta0: float = 0.15
    astro_weight: float = 0.015
    astro_density: float = 1.0
    astro_tau: float = 100.0
    astro_offset: float = 0.0
    sample_decay: float = 0.99
    c_theta: float = 37.0
    delta_c: float = 22.0
    tau_c: float = 1000.0
    input_density: float = 0.15
    input_current: float = 100.0
    lam: float = 3.0
    c_matrix: tuple = NALSM_C
    exc_fraction: float = 0.8
    learn_events: Optional[int] = None

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"LiquidConfig.model must be one of {MODELS}, got {self.model!r}")
        for name in ("w_max", "astro_tau", "tau_c", "lam", "input_current"):
            if not getattr(self, name) > 0:
                raise ValueError(f"LiquidConfig.{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("astro_density", "input_density", "exc_fraction", "sample_decay"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"LiquidConfig.{name} must lie in [0, 1], "
                                 f"got {getattr(self, name)!r}")
        if self.w is not None and not 0 <= self.w <= self.w_max:
            raise ValueError(f"LiquidConfig.w must lie in [0, w_max = {self.w_max}], got {self.w!r}")
        if self.eta0 < 0 or self.delta_c < 0:
            raise ValueError("LiquidConfig.eta0 and delta_c must be >= 0")
        if self.learn_events is not None:
            check_int(self.learn_events, "LiquidConfig.learn_events", minimum=1)

    @property
    def magnitude(self) -> float:
        """Initial $\\lvert w\\rvert$ of every liquid and input synapse."""
        if self.w is not None:
            return float(self.w)
        return float(self.w_max) if self.model in ("nalsm", "lsm_stdp") else 1.0

    @property
    def has_warmup(self) -> bool:
        """Whether the model has a phase 1 (all but the static LSM)."""
        return self.model != "lsm"

    @property
    def plastic_in_sample(self) -> bool:
        """Whether the liquid keeps learning during each 250 ms sample (NALSM, LSM+STDP)."""
        return self.model in ("nalsm", "lsm_stdp")


@dataclasses.dataclass(frozen=True, eq=False)
class Liquid:
    """A built liquid: connectome, initial weights and the networks of both phases (host data).

    Attributes:
        config: the :class:`LiquidConfig`.
        grid: ``(d1, d2, d3)``.
        n, n_e, n_in: liquid size, number of excitatory liquid neurons, number of inputs.
        positions: ``(n, 3)`` grid coordinates of the liquid neurons.
        conns: ``name -> Connectivity`` for :data:`LIQUID_PROJECTIONS` (and ``"L->astro"``,
            ``"inp->astro"`` for NALSM).
        weights: initial signed weights ``name -> (n_pre, k)`` NumPy arrays (0 on padding).
        net_warmup: the phase-1 :class:`~neurojax.Network` (None for ``"lsm"``).
        net_sample: the phase-2 network (static for ``"lsm"`` and ``"lsm_apstdp"``).
    """

    config: LiquidConfig
    grid: tuple
    n: int
    n_e: int
    n_in: int
    positions: np.ndarray
    conns: dict
    weights: dict
    net_warmup: Optional[Network]
    net_sample: Network

    def network(self, phase: str) -> Network:
        """``"warmup"`` (phase 1) or ``"sample"`` (phase 2) network."""
        _check_phase(phase)
        if phase == "warmup":
            if self.net_warmup is None:
                raise ValueError(f"model '{self.config.model}' has no phase 1 (warmup)")
            return self.net_warmup
        return self.net_sample


def _check_phase(phase):
    if phase not in ("warmup", "sample"):
        raise ValueError(f"phase must be 'warmup' or 'sample', got {phase!r}")


def _rule(model: str, name: str, phase: str):
    """The plasticity rule of projection ``name`` in ``phase`` (None: static)."""
    inhibitory = name == "I->L"
    if model == "lsm" or (phase == "sample" and model == "lsm_apstdp"):
        return None
    if model == "lsm_apstdp":
        return ActivityDependentSTDP(pre_inhibitory=inhibitory)
    return AstrocyteSTDP("astro" if model == "nalsm" else None, pre_inhibitory=inhibitory)


def _network(conns: dict, n: int, n_e: int, n_in: int, model: str, phase: str,
             learn_events: Optional[int]) -> Network:
    """The simulator network of one phase. The recurrent projections take only their own rows
    of the ``(n, k)`` tables (``pre_rows``): the other type's rows are padding, which every
    step (and every plastic rule) would otherwise scan."""
    lif = DiscreteLIF()
    pops = {"inp": Population(lif, n_in), "L": Population(lif, n)}
    projs = {}
    own_rows = {"E->L": (0, n_e), "I->L": (n_e, n)}        # E rows [0, n_e), I rows [n_e, n)
    for name in LIQUID_PROJECTIONS:
        rule = _rule(model, name, phase)
        astro = rule is not None and model == "nalsm"
        rows, conn = own_rows.get(name), conns[name]
        if rows is not None:
            conn = Connectivity(conn.post_idx[rows[0]:rows[1]], rows[1] - rows[0], conn.n_post)
        projs[name] = Projection(conn, _PRE[name], "L", stp=ResetKernel(), synapse=Instant(),
                                 plasticity=rule, modulators=("astro",) if astro else (),
                                 pre_rows=rows, learn_events=None if rule is None else learn_events)
    if model == "nalsm":
        pops["astro"] = Population(LeakyIntegratorAstrocyte(), 1)
        for name, pre in (("L->astro", "L"), ("inp->astro", "inp")):
            projs[name] = Projection(conns[name], pre, "astro", receptor="drive", synapse=Instant())
    return Network(pops, projs, dt=1.0)


def _subset_to_one(rng, n: int, density: float) -> Connectivity:
    """A random ``round(density n)``-subset of ``n`` neurons, each with one synapse to unit 0."""
    m = int(round(density * n))
    pre = np.sort(rng.choice(n, size=m, replace=False))
    return from_edges(pre, np.zeros(m, np.int64), n, 1)


def build_liquid(key, grid, n_in: int, config: LiquidConfig = LiquidConfig()) -> Liquid:
    r"""Build a NALSM-family liquid of ``d1 x d2 x d3`` neurons with ``n_in`` inputs (spec §1.3).

    * Positions: the integer grid points, assigned to neuron indices by a random permutation;
      neurons ``[0, N_E)`` are excitatory, ``[N_E, N)`` inhibitory, $N_E = \mathrm{round}(0.8 N)$.
    * Recurrent synapses $j \to i$ ($i \ne j$), independently with probability
      $C[\mathrm{type}_j, \mathrm{type}_i]\, e^{-(D_{ij}/\lambda)^2}$
      (:func:`~neurojax.distance_based`; NALSM: $\lambda = 3$, $C_{EE} = 0.2$,
      $C_{EI} = 0.1$, $C_{IE} = 0.3$, $C_{II} = 0.05$), split into an excitatory (``"E->L"``)
      and an inhibitory (``"I->L"``) projection.
    * Input synapses: exactly $\lfloor N\, n_\mathrm{in} \cdot 0.15 \rfloor$ distinct
      (input, liquid) pairs, uniform without replacement (:func:`~neurojax.fixed_total`),
      each with a random sign (±1 with probability 1/2, fixed).
    * Weights: $+\lvert w\rvert$ from E, $-\lvert w\rvert$ from I, $\pm\lvert w\rvert$ from
      inputs, with $\lvert w\rvert$ = ``config.magnitude``.
    * NALSM: one astrocyte; a random ``round(density N)`` liquid neurons connect to it with
      weight $+1$ and ``round(density n_in)`` input neurons with $-1$ (all for density 1).

    Args:
        key: ``jax.random`` key; the liquid is a deterministic function of it.
        grid: ``(d1, d2, d3)`` (any number of positive dimensions).
        n_in: number of input neurons (784 for MNIST, 2312 for N-MNIST).
        config: :class:`LiquidConfig` (model and hyper-parameters).

    Returns:
        :class:`Liquid`.

    Examples:
        >>> import jax, numpy as np
        >>> from neurojax import lsm
        >>> liq = lsm.build_liquid(jax.random.PRNGKey(0), (4, 4, 4), 10)
        >>> liq.n, liq.n_e, liq.conns["inp->L"].n_synapses()     # floor(64 * 10 * 0.15)
        (64, 51, 96)
        >>> sorted(np.unique(liq.weights["inp->L"][np.asarray(liq.conns["inp->L"].mask)]).tolist())
        [-3.0, 3.0]
    """
    if not isinstance(config, LiquidConfig):
        raise TypeError(f"config must be a LiquidConfig, got {type(config).__name__}")
    grid = tuple(int(d) for d in grid)
    if not grid or any(d < 1 for d in grid):
        raise ValueError(f"grid must be a tuple of positive ints, got {grid!r}")
    if isinstance(n_in, bool) or not isinstance(n_in, (int, np.integer)) or n_in < 1:
        raise ValueError(f"n_in must be a positive int, got {n_in!r}")
    n_in = int(n_in)
    k_pos, k_rec, k_in, k_sign, k_astro = jax.random.split(key, 5)
    positions = grid_positions(grid, k_pos)
    n = len(positions)
    n_e = int(round(config.exc_fraction * n))
    types = (np.arange(n) >= n_e).astype(np.int64)
    rec = distance_based(k_rec, positions, types, config.c_matrix, config.lam)
    table = np.asarray(rec.post_idx)
    pre, slot = np.nonzero(table < n)
    post = table[pre, slot]
    exc = pre < n_e
    conns = {"E->L": from_edges(pre[exc], post[exc], n, n),
             "I->L": from_edges(pre[~exc], post[~exc], n, n),
             "inp->L": fixed_total(k_in, n_in, n, int(math.floor(n * n_in * config.input_density)))}
    mag = config.magnitude
    weights = {}
    for name, sign in (("E->L", 1.0), ("I->L", -1.0)):
        weights[name] = np.where(np.asarray(conns[name].mask), sign * mag, 0.0)
    inp_mask = np.asarray(conns["inp->L"].mask)
    signs = np.where(numpy_rng(k_sign).random(inp_mask.shape) < 0.5, -1.0, 1.0)
    weights["inp->L"] = np.where(inp_mask, signs * mag, 0.0)
    if config.model == "nalsm":
        rng = numpy_rng(k_astro)
        conns["L->astro"] = _subset_to_one(rng, n, config.astro_density)
        conns["inp->astro"] = _subset_to_one(rng, n_in, config.astro_density)
    build = functools.partial(_network, conns, n, n_e, n_in, config.model,
                              learn_events=config.learn_events)
    net_warmup = build("warmup") if config.has_warmup else None
    net_sample = build("sample")
    return Liquid(config=config, grid=grid, n=n, n_e=n_e, n_in=n_in, positions=positions,
                  conns=conns, weights=weights, net_warmup=net_warmup, net_sample=net_sample)


def liquid_params(liquid: Liquid, weights: Optional[dict] = None, phase: str = "sample") -> dict:
    r"""Validated ``params`` of the ``phase`` network with the given liquid weights.

    Phase ``"warmup"`` has no rate decay; phase ``"sample"`` multiplies $\eta$ (and for NALSM
    $A$, $w_A$, $b_A$) by ``sample_decay`` every ms. Bounds: E $[0, w_\max]$, I
    $[-w_\max, 0]$, input $[-w_\max, w_\max]$. NALSM's astrocyte: $\tau_A$, $w_A$,
    $A_0 = \eta_0$, $b_A = \eta_0 (1 + \mathrm{offset})$.

    Args:
        weights: ``name -> (n_pre, k)`` signed weights for :data:`LIQUID_PROJECTIONS`
            (default: ``liquid.weights``, the initial ones).
    """
    _check_phase(phase)
    cfg = liquid.config
    net = liquid.network(phase)
    weights = liquid.weights if weights is None else weights
    decay = 1.0 if phase == "warmup" else cfg.sample_decay
    bounds = {"inp->L": (-cfg.w_max, cfg.w_max), "E->L": (0.0, cfg.w_max),
              "I->L": (-cfg.w_max, 0.0)}
    dtype = float_dtype()
    over = {}
    for name in LIQUID_PROJECTIONS:
        shape = liquid.conns[name].post_idx.shape
        w = jnp.asarray(weights[name], dtype)
        if w.shape != shape:
            raise ValueError(f"weights['{name}'] must have shape {shape}, got {w.shape}")
        rows = net.projections[name].pre_rows
        entry = {"w": w if rows is None else w[rows[0]:rows[1]]}
        rule = net.projections[name].plasticity
        lo, hi = bounds[name]
        if isinstance(rule, AstrocyteSTDP):
            entry["plast"] = rule.default_params(eta0=cfg.eta0, decay=decay, w_min=lo, w_max=hi)
        elif isinstance(rule, ActivityDependentSTDP):
            entry["plast"] = rule.default_params(eta=cfg.eta0, c_theta=cfg.c_theta,
                                                 delta_c=cfg.delta_c, tau_c=cfg.tau_c,
                                                 w_min=lo, w_max=hi)
        over[name] = entry
    if cfg.model == "nalsm":
        over.update({"L->astro": 1.0, "inp->astro": -1.0, "astro": dict(
            tau=cfg.astro_tau, w=cfg.astro_weight, b=cfg.eta0 * (1.0 + cfg.astro_offset),
            a0=cfg.eta0, decay=decay)})
    return init_params(net, over)


def initial_state(net: Network, params: dict):
    r"""The state at the start of a sample: everything at rest, and the delay line of every
    :class:`~neurojax.ResetKernel` projection holding the kernel of $\Delta_0$ (= 20 ms), as
    the reference loop's first step (spec §1.4: $\Delta$ is initialised to 20 per sample)."""
    state = init_state(net, params)
    projs = dict(state.projs)
    for name, proj in net.projections.items():
        if isinstance(proj.stp, ResetKernel):
            buf = projs[name].buffer
            g0 = proj.stp.initial_signal(params[name].stp, proj.conn.n_pre)
            projs[name] = projs[name]._replace(buffer=jnp.broadcast_to(g0, buf.shape).astype(buf.dtype))
    return state._replace(projs=projs)


# ---------------------------------------------------------------------------------------------
# Running: inputs, phase 1, phase 2
# ---------------------------------------------------------------------------------------------


def _drive(x, key, n_steps: int, current):
    """External current of the input neurons for one sample: ``current * Bernoulli(x)`` per
    step for probabilities ``x`` of shape ``(n_in,)``, ``current * x[:n_steps]`` for events
    ``(T, n_in)``."""
    if x.ndim == 1:
        u = jax.random.uniform(key, (n_steps, x.shape[0]), x.dtype)
        return current * (u < x[None, :]).astype(x.dtype)
    return current * x[:n_steps]


def _check_inputs(x, n_in: int, n_steps: int, what: str) -> np.ndarray:
    """Host array of inputs (kept on the host; batches are moved to the device one at a time)."""
    x = np.asarray(x)
    if x.ndim not in (2, 3) or x.shape[-1] != n_in:
        raise ValueError(f"{what}: x must be (n, n_in={n_in}) probabilities or (n, T, n_in) events, "
                         f"got shape {x.shape}")
    if x.ndim == 3 and x.shape[1] < n_steps:
        raise ValueError(f"{what}: event inputs need at least {n_steps} steps, got {x.shape[1]}")
    if x.shape[0] < 1:
        raise ValueError(f"{what}: no samples")
    return x


def _device(x) -> Array:
    return jnp.asarray(x, float_dtype())


def _liquid_spikes(state):
    """Recorder: the liquid's spikes of the step as uint8 (compact rasters)."""
    return state.pops["L"].spike.astype(jnp.uint8)


def _spike_totals(state):
    """Recorder: total liquid and input spikes of the step."""
    return jnp.stack([state.pops["L"].spike.sum(), state.pops["inp"].spike.sum()])


def _flush_pending(net: Network, params: dict, state):
    r"""Apply the pairing terms the NALSM rules hold for one step (their ``causal_*``/``anti_*``
    state, see :mod:`neurojax.plasticity.nalsm`), with the clip: the reference's plasticity of
    the last step of a run, which neurojax would apply one step later."""
    projs = dict(state.projs)
    for name, proj in net.projections.items():
        if proj.plasticity is None:
            continue
        s, p, ps = projs[name], params[name].plast, projs[name].plast
        dw = pair_update_reference(proj.conn.post_idx, params[name].w, s.dw, ps.causal_pre,
                                   ps.causal_post, ps.anti_post, ps.anti_pre, p.w_min, p.w_max,
                                   proj.conn.n_post)
        projs[name] = s._replace(dw=dw)
    return state._replace(projs=projs)


def _carried_rule_state(rule, p, final, fresh, keep_traces: bool):
    r"""Rule state for the next snapshot: fresh pending terms and rates; the STDP traces (if
    ``keep_traces``) and AP-STDP's activity $C$ (always) carried over, advanced by the
    reference's step 0 of the next snapshot (no spikes: $x \leftarrow d x$,
    $C \leftarrow C (1 - 1/\tau_C)$)."""
    out = {}
    if keep_traces:
        d = p.trace_decay
        out.update(x_pre=d * final.x_pre, x_post=d * final.x_post)
    if isinstance(rule, ActivityDependentSTDP):
        out["c"] = final.c * (1.0 - 1.0 / p.tau_c)
    return fresh._replace(**out)


@functools.partial(jax.jit, static_argnames=("n_steps", "keep_traces"))
def _warmup_chunk(net, params, state0, rule_states, x, index, valid, key, current, n_steps: int,
                  keep_traces: bool):
    """Run the snapshots ``x`` (one after the other) from ``(params, rule_states)``; snapshots
    with ``valid = False`` (padding of the last chunk) leave the carry unchanged."""

    def body(carry, xs):
        old = carry
        params, rule_states = carry
        x_i, i, ok = xs
        projs = {name: (s._replace(plast=rule_states[name]) if name in rule_states else s)
                 for name, s in state0.projs.items()}
        state = state0._replace(projs=projs)
        drive = _drive(x_i, jax.random.fold_in(key, i), n_steps, current)
        final, totals = simulate(net, params, state, {"inp": drive}, record=_spike_totals)
        final = _flush_pending(net, params, final)
        params, final = absorb_plasticity(net, params, final)
        rule_states = {name: _carried_rule_state(net.projections[name].plasticity,
                                                 params[name].plast, final.projs[name].plast,
                                                 state0.projs[name].plast, keep_traces)
                       for name in rule_states}
        diag = {"liquid_spikes": totals[:, 0].sum(), "input_spikes": totals[:, 1].sum()}
        for name in LIQUID_PROJECTIONS:
            mask = net.projections[name].conn.post_idx < net.projections[name].conn.n_post
            diag[f"mean_w[{name}]"] = (jnp.where(mask, params[name].w, 0.0).sum()
                                        / jnp.maximum(mask.sum(), 1))
        if "astro" in final.pops:
            diag["astro_a"] = final.pops["astro"].a[0]
        new = jax.tree.map(lambda a, b: jnp.where(ok, a, b), (params, rule_states), old)
        return new, diag

    return jax.lax.scan(body, (params, rule_states), (x, index, valid))


def warmup(liquid: Liquid, x, key, *, snapshot_ms: int = 20, chunk: int = 100,
           keep_traces: bool = True, weights: Optional[dict] = None, progress: bool = True):
    r"""Phase 1 (spec §1.8): present snapshots one after the other; weights carry over.

    For every snapshot: reset $v$, refractory counters, $\Delta$ (to 20), the astrocyte
    ($A_0$, $w_A$, $b_A$) and $\eta$; run ``snapshot_ms`` ms with the phase-1 rule and no
    rate decay; apply the rule's pending change and absorb the plastic change into the
    weights (:func:`~neurojax.absorb_plasticity`). STDP traces carry over between snapshots
    (as the reference, batch 1) unless ``keep_traces=False``; AP-STDP's activity $C$ always
    carries over. Snapshots run in jitted chunks of ``chunk`` (a ``lax.scan`` each) with a
    tqdm progress bar; the result equals one long sequential loop.

    Args:
        liquid: from :func:`build_liquid` (not ``"lsm"``: it has no phase 1).
        x: ``(n_snap, n_in)`` spike probabilities per ms (input neuron $k$ receives
            ``input_current`` with probability $x_k$ each ms, drawn with
            ``fold_in(key, snapshot index)``), or ``(n_snap, T, n_in)`` binary events
            (``T >= snapshot_ms - 1``; e.g. a random 20 ms window of an event recording).
        key: ``jax.random`` key of the Bernoulli draws.
        snapshot_ms: snapshot length in reference ms (NALSM: 20).
        chunk: snapshots per jitted call.
        weights: starting weights (default: the liquid's initial weights). Continuing a
            phase 1 in pieces this way restarts the STDP traces and AP-STDP's $C$ at 0.

    Returns:
        ``(weights, diagnostics)``: $W_\mathrm{INI}$ as ``name -> (n_pre, k)`` arrays, and
        NumPy arrays per snapshot: ``liquid_spikes``, ``input_spikes``, ``mean_w[<proj>]``
        (mean signed weight after the snapshot) and, for NALSM, ``astro_a`` ($A$ at the end);
        plus the floats ``seconds`` (total) and ``snapshots_per_s`` (after the first chunk,
        which compiles).
    """
    net = liquid.network("warmup")
    n_steps = int(snapshot_ms) - 1
    if n_steps < 1:
        raise ValueError(f"snapshot_ms must be >= 2, got {snapshot_ms!r}")
    x = _check_inputs(x, liquid.n_in, n_steps, "warmup")
    params = liquid_params(liquid, weights, "warmup")
    state0 = initial_state(net, params)
    rule_states = {name: state0.projs[name].plast for name, proj in net.projections.items()
                   if proj.plasticity is not None}
    current = jnp.asarray(liquid.config.input_current, float_dtype())
    n_snap = x.shape[0]
    chunk = max(1, min(int(chunk), n_snap))
    bar = _progress(progress, n_snap, "phase 1 (snapshots)")
    diags = []
    t_start = time.perf_counter()
    t_first = None
    for s0 in range(0, n_snap, chunk):
        idx = np.arange(s0, s0 + chunk)
        valid = idx < n_snap
        idx = np.where(valid, idx, n_snap - 1)
        (params, rule_states), diag = _warmup_chunk(
            net, params, state0, rule_states, _device(x[idx]), jnp.asarray(idx),
            jnp.asarray(valid), key, current, n_steps=n_steps, keep_traces=keep_traces)
        diags.append(jax.tree.map(lambda d: np.asarray(d)[valid], diag))
        s1 = min(s0 + chunk, n_snap)
        if t_first is None:
            t_first = time.perf_counter()
        if bar is not None:
            bar.update(s1 - s0)
    if bar is not None:
        bar.close()
    t_end = time.perf_counter()
    diagnostics = {k: np.concatenate([d[k] for d in diags]) for k in diags[0]}
    rest = n_snap - chunk
    diagnostics["seconds"] = t_end - t_start
    diagnostics["snapshots_per_s"] = (rest / (t_end - t_first) if rest > 0 and t_end > t_first
                                      else n_snap / (t_end - t_start))
    return _full_weights(liquid, net, params), diagnostics


def _full_weights(liquid: Liquid, net: Network, params: dict) -> dict:
    """The weights of ``net``'s ``params`` as ``name -> (n_pre, k)`` arrays on the liquid's
    tables (:attr:`Liquid.weights` layout; rows outside a projection's ``pre_rows`` are 0)."""
    out = {}
    for name in LIQUID_PROJECTIONS:
        w, rows = params[name].w, net.projections[name].pre_rows
        out[name] = w if rows is None else \
            jnp.zeros(liquid.conns[name].post_idx.shape, w.dtype).at[rows[0]:rows[1]].set(w)
    return out


@functools.partial(jax.jit, static_argnames=("n_steps",))
def _sample_batch(net, params, state0, x, index, key, current, n_steps: int):
    def one(x_i, i):
        drive = _drive(x_i, jax.random.fold_in(key, i), n_steps, current)
        return simulate(net, params, state0, {"inp": drive}, record=_liquid_spikes)[1]

    return jax.vmap(one)(x, index)


def sample_features(liquid: Liquid, weights: Optional[dict], x, key, *, sample_ms: int = 250,
                    batch_size: int = 50, raster_indices=(), progress: bool = True,
                    desc: str = "phase 2 (samples)"):
    r"""Phase 2 (spec §1.8): spike counts of the liquid neurons for every sample.

    Each sample starts from ``weights`` ($W_\mathrm{INI}$) and a fresh state (:func:`initial_state`;
    $\eta$, $A$, traces reset) and runs ``sample_ms`` ms; for ``"nalsm"`` and ``"lsm_stdp"``
    the liquid keeps learning within the sample with all rates decaying by
    ``sample_decay`` per ms, each sample holding its own plastic change ``dw`` on the sparse
    ``(n_pre, k)`` synapse tables (no dense matrices). Samples are ``vmap``-ed in batches of
    ``batch_size`` (the last batch is padded, so there is one compile) with a progress bar.
    Sample $i$ draws its Bernoulli inputs with ``fold_in(key, i)``, so the result does not
    depend on the batching.

    Args:
        weights: the liquid weights (None: the liquid's initial weights).
        x: ``(n, n_in)`` probabilities or ``(n, T, n_in)`` events (``T >= sample_ms - 1``).
        raster_indices: samples whose full rasters to return (e.g. 20 for the branching
            factor).

    Returns:
        ``(counts, rasters, info)``: ``int32 (n, N)`` spike counts over the reference's
        ``sample_ms`` ms; ``uint8 (len(raster_indices), sample_ms, N)`` rasters in reference
        time (row 0 is $s(0) = 0$); ``info`` with ``seconds`` (total), ``samples_per_s``
        (excluding the first batch, which compiles) and ``batch_size``.
    """
    net = liquid.network("sample")
    n_steps = int(sample_ms) - 1
    if n_steps < 1:
        raise ValueError(f"sample_ms must be >= 2, got {sample_ms!r}")
    x = _check_inputs(x, liquid.n_in, n_steps, "sample_features")
    params = liquid_params(liquid, weights, "sample")
    state0 = initial_state(net, params)
    current = jnp.asarray(liquid.config.input_current, float_dtype())
    n = x.shape[0]
    batch_size = max(1, min(int(batch_size), n))
    raster_indices = [int(i) for i in raster_indices]
    counts = np.zeros((n, liquid.n), np.int32)
    rasters = np.zeros((len(raster_indices), int(sample_ms), liquid.n), np.uint8)
    where = {i: r for r, i in enumerate(raster_indices)}
    bar = _progress(progress, n, desc)
    t_start = time.perf_counter()
    t_first = None
    for b0 in range(0, n, batch_size):
        idx = np.arange(b0, b0 + batch_size)
        real = idx < n
        idx = np.where(real, idx, n - 1)
        spikes = np.asarray(_sample_batch(net, params, state0, _device(x[idx]), jnp.asarray(idx), key,
                                          current, n_steps=n_steps))
        counts[idx[real]] = spikes[real].sum(axis=1, dtype=np.int32)
        for j in np.flatnonzero(real):
            if int(idx[j]) in where:
                rasters[where[int(idx[j])], 1:] = spikes[j]
        if t_first is None:
            t_first = time.perf_counter()
        if bar is not None:
            bar.update(int(real.sum()))
    if bar is not None:
        bar.close()
    t_end = time.perf_counter()
    rest = n - min(batch_size, n)
    info = {"seconds": t_end - t_start, "batch_size": batch_size,
            "samples_per_s": (rest / (t_end - t_first)) if rest > 0 and t_end > t_first
            else n / (t_end - t_start)}
    return counts, rasters, info


def _progress(progress: bool, total: int, desc: str):
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError as err:
        raise ImportError("progress=True needs tqdm (pip install tqdm), or pass progress=False") \
            from err
    return tqdm(total=total, desc=desc, unit="sample")


# ---------------------------------------------------------------------------------------------
# Criticality and kernel quality
# ---------------------------------------------------------------------------------------------


def recurrent_adjacency(liquid: Liquid) -> np.ndarray:
    """Dense boolean ``(N, N)`` liquid->liquid adjacency ``A[pre, post]`` (input synapses excluded)."""
    adj = np.zeros((liquid.n, liquid.n + 1), bool)
    for name in ("E->L", "I->L"):
        idx = np.asarray(liquid.conns[name].post_idx)
        adj[np.arange(liquid.n)[:, None], idx] = True
    return adj[:, :liquid.n]


def branching_factor(rasters, adjacency, *, buffer: int = 25, window: int = 4):
    r"""Branching factor of liquid rasters (spec §1.10).

    Spikes outside $[b, T - b)$ are dropped ($b$ = ``buffer`` = 25 ms). For every neuron $n$
    and every step $t \in [b + \Delta, T - b - \Delta)$ ($\Delta$ = ``window`` = 4 ms) at
    which $n$ spiked,

    $$ \mathrm{pre} = \sum_{j \to n} \sum_{\tau = t - \Delta}^{t - 1} s_j(\tau), \qquad
       \mathrm{post} = \sum_{n \to k} \sum_{\tau = t + 1}^{t + \Delta} s_k(\tau), \qquad
       r = \frac{\mathrm{post}}{\max(\mathrm{pre}, 1)} ; $$

    the neuron's BF is the mean of $r$ over its spikes, a sample's BF the mean over the
    neurons that spiked (NaN-mean), and the result the mean over samples (NaN-mean; a
    silent sample is NaN). BF $\approx 1$ is critical, $> 1$ supercritical.

    Args:
        rasters: ``(S, T, N)`` (or ``(T, N)``) liquid spikes in 1 ms bins (reference time).
        adjacency: ``(N, N)`` liquid->liquid connectivity ``A[pre, post]`` (e.g.
            :func:`recurrent_adjacency`); nonzero = connected.

    Returns:
        ``(bf, per_sample)``: the mean and the ``(S,)`` per-sample values.

    Examples:
        >>> import numpy as np
        >>> from neurojax import lsm
        >>> A = np.array([[0, 1], [0, 0]])           # neuron 0 -> neuron 1
        >>> s = np.zeros((60, 2)); s[30, 0] = 1; s[32, 1] = s[33, 1] = 1
        >>> bf, _ = lsm.branching_factor(s, A, buffer=5, window=4)
        >>> float(bf)             # neuron 0: 2 descendants / max(0, 1); neuron 1: 0 / 1
        1.0
    """
    s_all = np.asarray(rasters)
    if s_all.ndim == 2:
        s_all = s_all[None]
    if s_all.ndim != 3:
        raise ValueError(f"rasters must be (S, T, N) or (T, N), got shape {s_all.shape}")
    S, T, N = s_all.shape
    adj = np.asarray(adjacency) != 0
    if adj.shape != (N, N):
        raise ValueError(f"adjacency must be ({N}, {N}), got {adj.shape}")
    lo, hi = buffer + window, T - buffer - window
    if lo >= hi:
        raise ValueError(f"rasters of {T} steps are too short for buffer={buffer}, window={window}")
    A = adj.astype(np.float64)
    per_sample = np.full(S, np.nan)
    for i in range(S):
        s = (s_all[i] != 0).astype(np.float64)
        s[:buffer] = 0.0
        s[T - buffer:] = 0.0
        cs = np.concatenate([np.zeros((1, N)), np.cumsum(s, axis=0)])   # cs[t] = sum s[:t]
        t = np.arange(lo, hi)
        past = cs[t] - cs[t - window]                                   # s over [t - w, t)
        future = cs[t + window + 1] - cs[t + 1]                         # s over [t + 1, t + w]
        pre = past @ A                                                  # into n from its pres
        post = future @ A.T                                             # of n's posts
        spiked = s[lo:hi] > 0
        ratio = np.where(spiked, post / np.maximum(pre, 1.0), 0.0)
        n_spikes = spiked.sum(axis=0)
        active = n_spikes > 0
        if active.any():
            per_sample[i] = np.mean(ratio.sum(axis=0)[active] / n_spikes[active])
    bf = float(np.nanmean(per_sample)) if np.isfinite(per_sample).any() else float("nan")
    return bf, per_sample


def kernel_rank(counts, labels, *, per_class: int = 100, n_draws: int = 10, seed: int = 0):
    r"""Mean matrix rank of random class-balanced sets of liquid responses (spec §1.11).

    Each draw takes ``per_class`` samples of every class without replacement and computes
    the rank of the ``(N, per_class * n_classes)`` spike-count matrix (NumPy's SVD rank,
    default tolerance). On clean test inputs this is the separation property SP, on noisy
    inputs the generalisation property AP (lower is better); NALSM's kernel quality is
    $SP - AP$ (min-max rescaled across models in the paper). The paper used 100 per class
    and 1000 draws.

    Args:
        counts: ``(n_samples, N)`` spike counts.
        labels: ``(n_samples,)`` integer classes.
        per_class: samples per class per draw (every class needs at least that many).
        n_draws: number of random draws.

    Returns:
        ``(mean_rank, std_rank)`` over the draws.

    Examples:
        >>> import numpy as np
        >>> from neurojax import lsm
        >>> X = np.repeat(np.eye(3), 4, axis=0)          # 3 classes, identical rows per class
        >>> lsm.kernel_rank(X, np.repeat(np.arange(3), 4), per_class=2, n_draws=3)
        (3.0, 0.0)
    """
    counts = np.asarray(counts, np.float64)
    labels = np.asarray(labels)
    if counts.ndim != 2 or labels.shape != (counts.shape[0],):
        raise ValueError(f"counts must be (n, N) and labels (n,), got {counts.shape} and {labels.shape}")
    classes, sizes = np.unique(labels, return_counts=True)
    if per_class < 1 or sizes.min() < per_class:
        raise ValueError(f"per_class={per_class} needs at least that many samples of every class "
                         f"(smallest class has {sizes.min()})")
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(labels == c) for c in classes]
    ranks = []
    for _ in range(int(n_draws)):
        pick = np.concatenate([rng.choice(m, size=per_class, replace=False) for m in members])
        ranks.append(np.linalg.matrix_rank(counts[pick].T))
    return float(np.mean(ranks)), float(np.std(ranks))


# ---------------------------------------------------------------------------------------------
# The readout
# ---------------------------------------------------------------------------------------------


def normalize_counts(c) -> Array:
    r"""NALSM's per-mini-batch input normalisation (spec §1.8).

    $z_b = c_b / \lVert c_b\rVert_1$ per row, then $z \leftarrow z / \max_{b,k} z_{bk}$ over
    the whole mini-batch. All-zero rows stay 0 (the reference would give NaN), and an
    all-zero batch stays 0.

    Examples:
        >>> import numpy as np
        >>> from neurojax import lsm
        >>> z = lsm.normalize_counts(np.array([[1.0, 3.0], [0.0, 0.0], [2.0, 2.0]]))
        >>> [[round(v, 4) for v in row] for row in z.tolist()]   # (1/4, 3/4), 0, (1/2, 1/2); / 3/4
        [[0.3333, 1.0], [0.0, 0.0], [0.6667, 0.6667]]
    """
    c = jnp.asarray(c)
    c = c.astype(jnp.result_type(float, c))
    l1 = jnp.abs(c).sum(axis=-1, keepdims=True)
    z = jnp.where(l1 > 0, c / jnp.where(l1 > 0, l1, 1.0), 0.0)
    m = z.max()
    return jnp.where(m > 0, z / jnp.where(m > 0, m, 1.0), z)


def soft_targets(labels, n_classes: int) -> Array:
    r"""NALSM's soft targets: $\mathrm{softmax}(y^\pm)$ with $y^\pm = +1$ on the true class and
    $-1$ elsewhere (10 classes: 0.4509 and 0.0610).

    Examples:
        >>> from neurojax import lsm
        >>> [round(v, 4) for v in lsm.soft_targets([0], 10)[0, :2].tolist()]
        [0.4509, 0.061]
    """
    one = jax.nn.one_hot(jnp.asarray(labels), n_classes, dtype=float_dtype())
    return jax.nn.softmax(2.0 * one - 1.0, axis=-1)


def readout_loss(params, z, q, l2: float = 5e-10, mask=None) -> Array:
    r"""Soft-target cross-entropy of the linear readout plus the L2 penalty (spec §1.8):

    $$ L = \frac{1}{B} \sum_b \Big( -\sum_k q_{bk} \log \mathrm{softmax}(z_b W + b)_k \Big)
         + \lambda_2 \tfrac{1}{2} \lVert W \rVert^2 , \qquad \lambda_2 = 5\cdot 10^{-10}. $$

    (mean over the mini-batch rows where ``mask`` is 1; TF1's
    ``softmax_cross_entropy_with_logits`` + ``reduce_mean``.)

    Args:
        params: ``(W, b)`` with shapes ``(N, K)`` and ``(K,)``.
        z: ``(B, N)`` normalised features; q: ``(B, K)`` targets; mask: optional ``(B,)``.
    """
    w, b = params
    logp = jax.nn.log_softmax(z @ w + b[None, :], axis=-1)
    ce = -(q * logp).sum(axis=-1)
    mask = jnp.ones_like(ce) if mask is None else mask
    return (ce * mask).sum() / jnp.maximum(mask.sum(), 1.0) + l2 * 0.5 * jnp.sum(w * w)


def _batched(counts, labels, batch_size: int):
    """Fixed-order mini-batches, each normalised on its own: ``(nb, B, N)``, labels, mask."""
    counts = np.asarray(counts, np.float64)
    labels = np.asarray(labels)
    n = counts.shape[0]
    nb = -(-n // batch_size)
    pad = nb * batch_size - n
    c = np.concatenate([counts, np.zeros((pad, counts.shape[1]))]).reshape(nb, batch_size, -1)
    y = np.concatenate([labels, np.zeros(pad, labels.dtype)]).reshape(nb, batch_size)
    m = np.concatenate([np.ones(n), np.zeros(pad)]).reshape(nb, batch_size)
    z = jax.vmap(normalize_counts)(jnp.asarray(c, float_dtype()))
    return z, jnp.asarray(y), jnp.asarray(m, float_dtype())


def _adadelta(learning_rate: float, rho: float, eps: float):
    import optax

    return optax.adadelta(learning_rate=learning_rate, rho=rho, eps=eps)


@functools.partial(jax.jit, static_argnames=("n_epochs", "n_classes", "opt"))
def _epochs(params, opt_state, train, val, test, n_epochs: int, n_classes: int, opt: tuple, l2):
    tx = _adadelta(*opt)

    def accuracy(params, data):
        z, y, m = data
        pred = jnp.argmax(z @ params[0] + params[1][None, None, :], axis=-1)
        return ((pred == y) * m).sum() / m.sum()

    def batch_step(carry, data):
        params, opt_state = carry
        z, y, m = data
        grads = jax.grad(readout_loss)(params, z, soft_targets(y, n_classes), l2, m)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = jax.tree.map(lambda p, u: p + u, params, updates)
        return (params, opt_state), None

    def epoch(carry, _):
        carry, _ = jax.lax.scan(batch_step, carry, train)
        return carry, (accuracy(carry[0], train), accuracy(carry[0], val), accuracy(carry[0], test))

    return jax.lax.scan(epoch, (params, opt_state), None, length=n_epochs)


def train_readout(train, val, test, *, n_classes: int = 10, epochs: int = 500,
                  batch_size: int = 250, learning_rate: float = 0.1, rho: float = 0.95,
                  eps: float = 1e-8, l2: float = 5e-10, chunk: int = 100, progress: bool = True):
    r"""Train NALSM's linear softmax readout on cached spike counts (spec §1.8).

    Mini-batches of ``batch_size`` in fixed dataset order, each normalised with
    :func:`normalize_counts`; logits $z W + b$ with $W, b$ initialised to 0; loss
    :func:`readout_loss` against :func:`soft_targets`; Adadelta (``optax.adadelta``, TF1's
    algorithm: learning rate 0.1, $\rho = 0.95$, $\epsilon = 10^{-8}$). After every epoch the
    train, validation and test accuracies are computed (validation and test in mini-batches
    of the same size and normalisation); the result is the test accuracy at the first epoch
    with the best validation accuracy.

    Args:
        train, val, test: ``(counts (n, N), labels (n,))`` pairs.
        epochs: passes over the training set (run in jitted chunks of ``chunk``).

    Returns:
        dict: ``test_accuracy``, ``val_accuracy`` (at the best epoch), ``best_epoch`` (1-based),
        ``train_accuracy`` (at the best epoch) and the per-epoch curves ``curves`` (lists).
    """
    n_feat = np.asarray(train[0]).shape[1]
    data = [_batched(c, y, batch_size) for c, y in (train, val, test)]
    dtype = float_dtype()
    params = (jnp.zeros((n_feat, n_classes), dtype), jnp.zeros((n_classes,), dtype))
    opt = (float(learning_rate), float(rho), float(eps))
    opt_state = _adadelta(*opt).init(params)
    curves = ([], [], [])
    bar = None
    if progress:
        bar = _progress(True, epochs, "readout (epochs)")
    done = 0
    while done < epochs:
        k = min(chunk, epochs - done)
        (params, opt_state), accs = _epochs(params, opt_state, *data, n_epochs=k,
                                            n_classes=n_classes, opt=opt, l2=jnp.asarray(l2, dtype))
        for curve, a in zip(curves, accs):
            curve.extend(np.asarray(a).tolist())
        done += k
        if bar is not None:
            bar.update(k)
    if bar is not None:
        bar.close()
    val = np.asarray(curves[1])
    best = int(np.argmax(val))
    return {"test_accuracy": float(curves[2][best]), "val_accuracy": float(val[best]),
            "train_accuracy": float(curves[0][best]), "best_epoch": best + 1,
            "curves": {"train": curves[0], "val": curves[1], "test": curves[2]}}
