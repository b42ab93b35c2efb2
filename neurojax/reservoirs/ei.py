r"""The self-adapting E/I rate reservoir of Srinivasan, Plenz & Girvan (2025), on the simulator.

One :class:`~neurojax.SigmoidRate` population ``"res"`` of $N$ units, the first
$N_E = \mathrm{round}(f_E N)$ excitatory and the rest inhibitory (Dale's law), coupled by two
projections with :class:`~neurojax.Instant` synapses, ``source="r"`` and a one-step delay:
``"exc"`` (E $\to$ all, weights $A^E \ge 0$) and ``"inh"`` (I $\to$ all, weights $-A^I \le 0$,
plastic when adapting). The input enters the receptor ``"i"`` in the same step
(``inputs={"res": u W_\mathrm{in}^\top}``, :func:`drive`). With $\lambda = 0$ this is Eq. 1 of
the paper (specs/reservoirs.md §4.2):

$$ v_i(t) = \lambda v_i(t-1) + \sum_j A^E_{ij} r_j(t-1) - \sum_j A^I_{ij} r_j(t-1)
           + \sum_m W^\mathrm{in}_{im} u_m(t), \qquad
   r_i(t) = \frac{1}{1 + e^{-c\,(v_i(t) - \theta)}} . $$

**Construction** (:func:`ei_reservoir`). Each unit receives a fixed in-degree: with
``indegree="split"`` $k_E = \mathrm{round}(f_E k)$ excitatory and $k_I = k - k_E$ inhibitory
partners, drawn without replacement (``"each"``: $k$ from each population). Weights are
$|\mathcal N(\mu, 0.2\mu)|$ (``jitter`` = 0.2) with $\mu_E = 1/(k f_E)$, so the mean total
excitatory weight is $W_E = k_E \mu_E$ ($= 1$ for ``"split"``). A fraction $f_\mathrm{in}$ of
the units receive the input with weights $U(-\sigma_\mathrm{in}/2, \sigma_\mathrm{in}/2)$.

**Balance.** The inhibitory weights are a fixed pattern times a gain,
$A^I_{ij} = (1 - \beta)\, g_i\, \hat A^I_{ij}$, where $\hat A^I$ has mean
$\hat\mu_I = W_E / k_I$ (the *balanced* pattern: total mean inhibition $W_I = W_E$), so

$$ \beta = \frac{W_E - W_I}{W_E}, \qquad \mu_I = (1 - \beta)\, \frac{W_E}{k_I} ; $$

$\beta = 0$ is balanced, $\beta > 0$ excitation-dominated, $\beta < 0$ inhibition-dominated
(the global knob, swept in $[-3, 1]$; $\beta \le 1$ keeps Dale's law). The per-neuron gains
$g_i$ (default 1) carry the one-step design. :func:`ei_params` builds the simulator's ``params``
from the fixed magnitudes (:class:`EIBase`) with traced arithmetic only, so ``jax.grad``
reaches $\beta$, $\sigma_\mathrm{in}$, $g_i$ and the unit parameters through
:func:`~neurojax.simulate`.

**Local adaptive inhibition** (:func:`adapt`, §4.3). :class:`~neurojax.plasticity.RateHomeostasis`
on ``"inh"``: every step $\Delta A^I_{ij} = \delta\,(r_i - \rho_i)$ (``rule="additive"``, Eq. 7
of the paper) or $\Delta A^I_{ij} = \delta\,(r_i - \rho_i)\,|A^I_{ij}(0)|$ (``"gain"``, a per-neuron
gain), clipped at $A^I_{ij} \ge 0$. Protocol: drive with the task's training input for
$T_\mathrm{adapt}$ steps, then freeze (:func:`~neurojax.absorb_plasticity` and drop the rule),
and report the achieved rate error $\frac1N \sum_i |\langle r_i\rangle - \rho_i|$.

**One-step design** (:func:`one_step_design`, §4.4): the mean-field gains putting the fixed
point at $r_i = \rho_i$ for the mean input $\bar u$,

$$ g_i = \frac{\sum_j A^E_{ij}\rho_j + W^\mathrm{in}_i \cdot \bar u
         - (1 - \lambda)\big(\theta + \mathrm{logit}(\rho_i)/c\big)}{\sum_j \hat A^I_{ij}\rho_j},
   \qquad \text{clipped to } [0, g_\max] , $$

exact for a constant input when the fixed point is attracting; under fluctuating input
$E[\sigma(x)] \ne \sigma(E[x])$ moves the rates off target (measure them).

*Low targets.* With $\lambda = 0$ and $\theta = 0$ a homogeneous target below about 0.25 is
out of reach: strong inhibition locks the whole network into a period-2 alternation (all
units near 0, then, with no recurrent input left, near $\sigma(0) = 0.5$), whose mean rate is
0.25 however strong the inhibition grows (measured: $\rho = 0.2$ ends at 0.25 with ten times
the balanced inhibition). The same regime is the "silent" over-inhibited end of the $\beta$
sweep ($\beta \lesssim -1$: mean rate 0.25).

**Heterogeneous targets** (:func:`target_rates`, §4.5): $\rho_i = \bar\rho X_i / E[X]$ with
$X \sim \mathrm{Beta}(a, b)$ (default Beta(2, 2): $\rho_i = 2\bar\rho X_i$), or log-normal,
clipped to $[0.02, 0.98]$.

**Scoring.** :func:`harvest` records $r(t)$ through :func:`~neurojax.simulate`;
:func:`score_harvest` scores any state-harvesting function on a
:class:`~neurojax.reservoirs.Task` with the protocol of :func:`neurojax.reservoirs.score`
(:func:`~neurojax.reservoirs.tasks.score_states`): one run over all rows from the initial state
(train rows, then the test rows continuing from the last training state), ridge readout of
$r(t)$ fitted on rows ``[washout, n_train)``. :func:`score_ei` does it for this reservoir.

| param    | symbol                | default     | unit |
|----------|-----------------------|-------------|------|
| n        | $N$                   | (required)  | 1    |
| f_e      | $f_E$                 | 0.8         | 1    |
| k        | $k$ (in-degree)       | 50          | 1    |
| indegree | $k_E, k_I$ scheme     | ``"split"`` | -    |
| jitter   | weight CV             | 0.2         | 1    |
| f_in     | $f_\mathrm{in}$       | 0.3         | 1    |
| sigma_in | $\sigma_\mathrm{in}$  | 0.5         | 1    |
| beta     | $\beta$               | 0.0         | 1    |
| c        | $c$                   | 10.0        | 1    |
| theta    | $\theta$              | 0.0         | 1    |
| lam      | $\lambda$             | 0.0         | 1    |
| rho      | $\rho_i$              | 0.5         | 1    |
| delta    | $\delta$              | 1e-3        | 1 per step |

All paper constants are unverified reconstructions (specs/reservoirs.md §4.8); they are
configuration here. The simulator's ``dt`` is 1 (ms, meaning one step): $\delta$ is per step.

References:
    Srinivasan, Plenz & Girvan (2025), *Boosting reservoir computing with brain-inspired
    adaptive dynamics*, arXiv:2504.12480. Jaeger (2001), GMD Report 148/152 (memory capacity).

Examples:
    >>> import jax, neurojax as nj
    >>> from neurojax.reservoirs import ei
    >>> net, base = ei.ei_reservoir(jax.random.key(0), 40, k=10)
    >>> params, w_in = ei.ei_params(net, base, beta=0.0, sigma_in=0.5)
    >>> task = nj.reservoirs.tasks.memory_capacity(10, seed=0)
    >>> mc = ei.score_ei(net, params, w_in, 1e-8, task)
    >>> 0.5 < float(mc) < 10.0
    True
"""
import dataclasses
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from neurojax._params import as_float, check_int
from neurojax.connectivity import from_edges, numpy_rng
from neurojax.kernels import event_scatter_reference
from neurojax.network import Network, Population, init_state
from neurojax.neurons import SigmoidRate, SigmoidRateParams
from neurojax.plasticity.base import absorb_plasticity
from neurojax.plasticity.homeostasis import RateHomeostasis, RateHomeostasisParams
from neurojax.projections import ProjParams, Projection
from neurojax.reservoirs.tasks import Task, score_states
from neurojax.simulate import Record, simulate
from neurojax.synapses import Instant, InstantParams

Array = jax.Array

__all__ = ["EIBase", "ei_reservoir", "ei_params", "inhibitory_weights", "drive", "harvest",
           "freeze", "adapt", "AdaptResult", "one_step_design", "target_rates", "rate_error",
           "score_harvest", "score_ei", "RES", "EXC", "INH", "RULES", "INDEGREE", "TARGETS"]

RES, EXC, INH = "res", "exc", "inh"
RULES = (None, "additive", "gain")
INDEGREE = ("split", "each")
TARGETS = ("constant", "beta", "lognormal")
RATES = Record((RES, "r"))


class EIBase(NamedTuple):
    """Fixed non-negative magnitudes of an E/I reservoir (arrays only: a pytree).

    ``exc`` and ``inh`` live on the ``(n_pre, width)`` synapse tables of the projections
    ``"exc"`` and ``"inh"`` (0 on padding); ``inh`` is the balanced pattern $\\hat A^I$.
    """

    exc: Array          # 1  (N, width)  A^E >= 0, mean mu_E = 1 / (k f_E)
    inh: Array          # 1  (N, width)  Ahat^I >= 0, mean W_E / k_I (beta = 0 weights)
    w_in: Array         # 1  (N, n_in)   input pattern, U(-1/2, 1/2) on f_in N units, else 0
    excitatory: Array   # 1  (N,)        1.0 for E units, 0.0 for I units


class AdaptResult(NamedTuple):
    """What :func:`adapt` returns: the frozen reservoir and how close it came to its targets."""

    net: Network        # the reservoir without plasticity
    params: dict        # its params, the learned inhibition absorbed into the weights
    rates: Array        # 1  (N,)  mean rate of each unit over the last ``measure`` steps
    rate_error: Array   # 1  ()    mean_i |rates_i - rho_i|


def _concrete(x) -> Optional[np.ndarray]:
    return None if isinstance(x, jax.core.Tracer) else np.asarray(x)


def _fraction(name: str, value, *, open_low: bool, open_high: bool) -> float:
    value = float(value)
    ok = (value > 0 if open_low else value >= 0) and (value < 1 if open_high else value <= 1)
    if not ok:
        interval = ("(" if open_low else "[") + "0, 1" + (")" if open_high else "]")
        raise ValueError(f"ei_reservoir: {name} must be in {interval}, got {value}")
    return value


def _sample_partners(rng, n: int, pool_start: int, pool_end: int, k: int, autapses: bool):
    """For every unit i, ``k`` distinct partners from ``[pool_start, pool_end)`` (never i itself
    unless ``autapses``): ``(pre, post)`` edge lists."""
    pre = np.empty((n, k), np.int64)
    pool = np.arange(pool_start, pool_end)
    for i in range(n):
        choices = pool if autapses or not pool_start <= i < pool_end else pool[pool != i]
        pre[i] = rng.choice(choices, size=k, replace=False)
    return pre.ravel(), np.repeat(np.arange(n), k)


def ei_reservoir(key, n: int, n_in: int = 1, *, f_e: float = 0.8, k: int = 50,
                 indegree: str = "split", autapses: bool = False, jitter: float = 0.2,
                 f_in: float = 0.3, rule: Optional[str] = "additive",
                 width: Optional[int] = None):
    """Build the E/I reservoir: an :class:`~neurojax.Network` and its fixed magnitudes.

    Host-side NumPy, deterministic given ``key``. Weights are drawn once as magnitudes
    (:class:`EIBase`); :func:`ei_params` turns them into ``params`` for a balance ``beta`` and
    an input scaling ``sigma_in``.

    Args:
        key: ``jax.random`` key.
        n: number of units $N$ (``round(f_e n)`` excitatory, the rest inhibitory, E first).
        n_in: input dimension.
        f_e: excitatory fraction $f_E$ in (0, 1).
        k: in-degree $k$.
        indegree: ``"split"``: $k_E = \\mathrm{round}(f_E k)$ E and $k_I = k - k_E$ I
            partners per unit; ``"each"``: $k$ partners from each population.
        autapses: allow a unit to draw itself as a partner.
        jitter: coefficient of variation of the weights, $|\\mathcal N(\\mu, \\mathrm{jitter}\\,\\mu)|$.
        f_in: fraction of units receiving the input, in [0, 1].
        rule: plasticity on ``"inh"``: ``"additive"`` (the paper's per-synapse Eq. 7),
            ``"gain"`` (per-neuron gain; needs $\\beta < 1$: it scales the initial weights)
            or ``None`` (a static reservoir).
        width: row width of both synapse tables (default: the largest out-degree). Fixing
            it gives every seed the same shapes, so one compilation serves them all.

    Returns:
        ``(net, base)``.

    Raises:
        ValueError: bad sizes or fractions, an unknown scheme or rule, or ``k`` larger than
            the partners available.
    """
    n, n_in, k = check_int(n, "ei_reservoir: n"), check_int(n_in, "ei_reservoir: n_in"), \
        check_int(k, "ei_reservoir: k")
    f_e = _fraction("f_e", f_e, open_low=True, open_high=True)
    f_in = _fraction("f_in", f_in, open_low=False, open_high=False)
    if not float(jitter) >= 0:
        raise ValueError(f"ei_reservoir: jitter must be >= 0, got {jitter}")
    if indegree not in INDEGREE:
        raise ValueError(f"ei_reservoir: indegree must be one of {INDEGREE}, got {indegree!r}")
    if rule not in RULES:
        raise ValueError(f"ei_reservoir: rule must be one of {RULES}, got {rule!r}")
    n_e = int(round(f_e * n))
    n_i = n - n_e
    if n_e < 1 or n_i < 1:
        raise ValueError(f"ei_reservoir: n={n} with f_e={f_e} leaves {n_e} E and {n_i} I units; "
                         "both populations need at least one")
    k_e, k_i = (int(round(f_e * k)), k - int(round(f_e * k))) if indegree == "split" else (k, k)
    if k_e < 1 or k_i < 1:
        raise ValueError(f"ei_reservoir: k={k} with f_e={f_e} gives k_E={k_e}, k_I={k_i}; "
                         "each unit needs at least one E and one I partner")
    spare = 0 if autapses else 1
    for name, want, have in (("k_E", k_e, n_e - spare), ("k_I", k_i, n_i - spare)):
        if want > have:
            raise ValueError(f"ei_reservoir: {name}={want} exceeds the {have} partners available "
                             f"(n={n}, f_e={f_e}, autapses={autapses})")
    rng = numpy_rng(key)
    pre_e, post_e = _sample_partners(rng, n, 0, n_e, k_e, autapses)
    pre_i, post_i = _sample_partners(rng, n, n_e, n, k_i, autapses)
    mu_e = 1.0 / (k * f_e)
    mu_i_hat = k_e * mu_e / k_i                          # W_E / k_I: the balanced pattern
    mag_e = mu_e * np.abs(rng.normal(1.0, jitter, pre_e.size))
    mag_i = mu_i_hat * np.abs(rng.normal(1.0, jitter, pre_i.size))
    w_in = np.zeros((n, n_in))
    fed = rng.choice(n, size=int(round(f_in * n)), replace=False)
    w_in[fed] = rng.uniform(-0.5, 0.5, (fed.size, n_in))
    if width is not None:
        need = max(np.bincount(pre_e).max(), np.bincount(pre_i).max())
        if check_int(width, "ei_reservoir: width") < need:
            raise ValueError(f"ei_reservoir: width={width} is smaller than the largest "
                             f"out-degree {need}")
    conn_e, a_e = from_edges(pre_e, post_e, n, n, mag_e, k=width)
    conn_i, a_i = from_edges(pre_i, post_i, n, n, mag_i, k=width)
    plast = None if rule is None else RateHomeostasis(form=rule, post_field="r", sign="negative")
    net = Network({RES: Population(SigmoidRate(), n)},
                  {EXC: Projection(conn_e, RES, RES, synapse=Instant(), source="r"),
                   INH: Projection(conn_i, RES, RES, synapse=Instant(), source="r",
                                   plasticity=plast)}, dt=1.0)
    base = EIBase(exc=as_float(a_e), inh=as_float(a_i), w_in=as_float(w_in),
                  excitatory=as_float(np.arange(n) < n_e))
    return net, base


def _check_net(net: Network):
    if not (isinstance(net, Network) and set(net.populations) == {RES}
            and set(net.projections) == {EXC, INH}):
        raise TypeError("expected an E/I reservoir network built by ei_reservoir (population "
                        f"'{RES}', projections '{EXC}' and '{INH}')")


def inhibitory_weights(net: Network, base: EIBase, gain) -> Array:
    """Weights of ``"inh"``, $-g_i \\hat A^I_{ij}$, for a scalar gain or one per postsynaptic
    unit (``(N,)``); traceable."""
    _check_net(net)
    gain = jnp.asarray(gain, base.inh.dtype)
    if gain.ndim == 0:
        return -gain * base.inh
    n = net.populations[RES].n
    if gain.shape != (n,):
        raise ValueError(f"inhibitory_weights: gain must be a scalar or have shape ({n},), got "
                         f"{gain.shape}")
    per_synapse = jnp.concatenate([gain, jnp.zeros((1,), gain.dtype)])[
        net.projections[INH].conn.post_idx]
    return -per_synapse * base.inh


def ei_params(net: Network, base: EIBase, beta=0.0, sigma_in=0.5, *, gain=1.0,
              unit=None, rho=0.5, delta=1e-3, tau_avg=0.0):
    r"""``params`` for the reservoir at balance ``beta`` and input scaling ``sigma_in``.

    $A^E$ = ``base.exc``; ``"inh"`` weights $-(1-\beta)\, g_i \hat A^I_{ij}$;
    $W_\mathrm{in} = \sigma_\mathrm{in}$ ``base.w_in``. Only traced arithmetic: ``jax.grad``
    and ``vmap`` reach ``beta``, ``sigma_in``, ``gain``, ``rho``, ``delta`` and the unit
    parameters. Concrete values are checked ($\beta \le 1$, gains $\ge 0$).

    Args:
        net, base: from :func:`ei_reservoir`.
        beta: balance $\beta \le 1$.
        sigma_in: input scaling $\sigma_\mathrm{in}$.
        gain: per-unit inhibitory gains $g_i$ (scalar or ``(N,)``, e.g. from
            :func:`one_step_design`).
        unit: :class:`~neurojax.SigmoidRateParams` or a dict of overrides of its defaults
            ($c = 10$, $\theta = 0$, $\lambda = 0$).
        rho, delta, tau_avg: the rule's targets (scalar or ``(N,)``), learning rate and
            averaging time (steps), used when ``net`` is plastic.

    Returns:
        ``(params, w_in)``: the simulator's params dict and the ``(N, n_in)`` input weights.

    Examples:
        >>> import jax, neurojax as nj
        >>> from neurojax.reservoirs import ei
        >>> net, base = ei.ei_reservoir(jax.random.key(0), 40, k=10, rule=None)
        >>> params, w_in = ei.ei_params(net, base, beta=-1.0)
        >>> W_E = float(params["exc"].w.sum()) / 40          # mean total weights per unit
        >>> W_I = -float(params["inh"].w.sum()) / 40
        >>> round((W_E - W_I) / W_E, 1)                         # beta, up to weight jitter
        -1.0
    """
    _check_net(net)
    for name, value, ok, want in (
            ("beta", beta, lambda a: (a <= 1).all(), "<= 1 (beta > 1 flips inhibition's sign)"),
            ("gain", gain, lambda a: (a >= 0).all(), ">= 0"),
            ("sigma_in", sigma_in, lambda a: (a >= 0).all(), ">= 0")):
        arr = _concrete(value)
        if arr is not None and (np.isnan(arr).any() or not ok(arr)):
            raise ValueError(f"ei_params: {name} must be {want}, got {arr}")
    if unit is None or isinstance(unit, dict):
        unit = SigmoidRateParams.default(**(unit or {}))
    elif not isinstance(unit, SigmoidRateParams):
        raise TypeError(f"ei_params: unit must be SigmoidRateParams or a dict, got "
                        f"{type(unit).__name__}")
    beta = jnp.asarray(beta, base.inh.dtype)
    plast = None
    if net.projections[INH].plasticity is not None:
        plast = RateHomeostasisParams(delta=as_float(delta), rho=as_float(rho),
                                      tau_avg=as_float(tau_avg))
    params = {RES: unit,
              EXC: ProjParams(w=base.exc, syn=InstantParams()),
              INH: ProjParams(w=inhibitory_weights(net, base, (1.0 - beta) * jnp.asarray(gain)),
                              syn=InstantParams(), plast=plast)}
    return params, jnp.asarray(sigma_in, base.w_in.dtype) * base.w_in


def drive(w_in: Array, inputs) -> dict:
    """The simulator's ``inputs``: ``{"res": u W_in^T}`` of shape ``(T, N)`` for ``u`` of
    shape ``(T, n_in)`` (or ``(T,)``)."""
    u = jnp.asarray(inputs)
    u = u[:, None] if u.ndim == 1 else u
    if u.ndim != 2 or u.shape[1] != w_in.shape[1]:
        raise ValueError(f"drive: inputs must be (T, n_in={w_in.shape[1]}), got {u.shape}")
    return {RES: u.astype(w_in.dtype) @ w_in.T}


def harvest(net: Network, params: dict, w_in: Array, inputs, state=None, *,
            checkpoint_every: Optional[int] = None):
    """Run the reservoir on ``inputs`` ``(T, n_in)`` (one :func:`~neurojax.simulate`).

    Args:
        state: the :class:`~neurojax.SimState` to start from (default: ``init_state``,
            $r = \\sigma(-c\\theta)$, empty delay lines).
        checkpoint_every: passed to :func:`~neurojax.simulate` (memory of reverse mode).

    Returns:
        ``(final_state, rates)``, ``rates[t]`` = $r(t)$ after reading ``inputs[t]``, ``(T, N)``.
    """
    state = init_state(net, params) if state is None else state
    final, rec = simulate(net, params, state, drive(w_in, inputs), record=RATES,
                          checkpoint_every=checkpoint_every)
    return final, rec[RES]["r"]


def freeze(net: Network, params: dict, state=None):
    """Stop adaptation: absorb the learned change into the weights
    (:func:`~neurojax.absorb_plasticity`) and drop the rule from ``"inh"``.

    Returns:
        ``(net, params)`` of the static reservoir, or ``(net, params, state)`` when a state of
        the plastic run is given (its ``dw``/rule state removed, so a run can continue from it).
    """
    _check_net(net)
    proj = net.projections[INH]
    if proj.plasticity is None:
        return (net, params) if state is None else (net, params, state)
    if state is not None:
        params, state = absorb_plasticity(net, params, state)
    frozen = dataclasses.replace(net, projections={
        EXC: net.projections[EXC], INH: dataclasses.replace(proj, plasticity=None, pull=None)})
    params = dict(params, **{INH: params[INH]._replace(plast=None)})
    if state is None:
        return frozen, params
    projs = dict(state.projs, **{INH: state.projs[INH]._replace(dw=None, plast=None)})
    return frozen, params, state._replace(projs=projs)


def _tile(u, n_steps: int):
    u = jnp.asarray(u)
    u = u[:, None] if u.ndim == 1 else u
    reps = -(-n_steps // u.shape[0])
    return jnp.tile(u, (reps, 1))[:n_steps]


def _no_record(state):
    del state
    return ()


def adapt(net: Network, params: dict, w_in: Array, inputs, n_steps: int, *,
          anneal: int = 0, anneal_factor: float = 0.05, measure: int = 1000,
          state=None) -> AdaptResult:
    """Local adaptive inhibition, then freeze (specs/reservoirs.md §4.3).

    Drives the plastic reservoir for ``n_steps`` steps with ``inputs`` (the task's training
    input, repeated as often as needed) at the rule's $\\delta$, then optionally ``anneal``
    more steps at $\\delta\\,\\times$ ``anneal_factor`` (the weights follow the input's
    fluctuations at a large $\\delta$; annealing lets them settle before they are frozen), absorbs
    the learned inhibition into the weights and removes the rule. The rate error is measured
    over the last ``measure`` steps of the run (the frozen reservoir's rates differ a little:
    measure them on its own run with :func:`rate_error`). Differentiable (a few
    :func:`~neurojax.simulate` calls of fixed lengths).

    Args:
        net, params, w_in: a plastic reservoir (``rule`` not ``None``) and :func:`ei_params`.
        inputs: ``(T, n_in)``.
        n_steps: adaptation steps $T_\\mathrm{adapt}$ at the full rate.
        anneal: further steps at the reduced rate (0: none).
        anneal_factor: $\\delta$ multiplier while annealing.
        measure: steps at the end over which the mean rates are taken
            (``<= n_steps + anneal``).
        state: initial state (default ``init_state``).

    Returns:
        :class:`AdaptResult` ``(net, params, rates, rate_error)`` of the frozen reservoir.
    """
    _check_net(net)
    if net.projections[INH].plasticity is None:
        raise ValueError("adapt: the reservoir has no plasticity; build it with "
                         "ei_reservoir(..., rule='additive' or 'gain')")
    n_steps = check_int(n_steps, "adapt: n_steps")
    anneal = check_int(anneal, "adapt: anneal", minimum=0)
    measure = check_int(measure, "adapt: measure")
    total = n_steps + anneal
    if measure > total:
        raise ValueError(f"adapt: measure={measure} exceeds n_steps + anneal = {total}")
    factor = _concrete(anneal_factor)
    if factor is not None and not factor >= 0:
        raise ValueError(f"adapt: anneal_factor must be >= 0, got {anneal_factor}")
    x = drive(w_in, _tile(inputs, total))[RES]
    state = init_state(net, params) if state is None else state
    slow = dict(params, **{INH: params[INH]._replace(
        plast=params[INH].plast._replace(delta=params[INH].plast.delta * anneal_factor))})
    # phases (start, end, params): full rate, then annealing; the last `measure` steps recorded
    phases = [(0, n_steps, params), (n_steps, total, slow)]
    cut = total - measure
    rec = []
    for start, end, p in phases:
        for a, b, recorder in ((start, min(end, cut), _no_record), (max(start, cut), end, RATES)):
            if b > a:
                state, r = simulate(net, p, state, {RES: x[a:b]}, record=recorder)
                if recorder is RATES:
                    rec.append(r[RES]["r"])
    rates = jnp.concatenate(rec).mean(0)
    rho = jnp.broadcast_to(params[INH].plast.rho, rates.shape)
    frozen, fparams, _ = freeze(net, params, state)
    return AdaptResult(net=frozen, params=fparams, rates=rates,
                       rate_error=jnp.mean(jnp.abs(rates - rho)))


def one_step_design(net: Network, base: EIBase, rho, w_in: Array, u_bar, *, unit=None,
                    g_max: float = 10.0) -> Array:
    r"""Closed-form per-unit inhibitory gains (specs/reservoirs.md §4.4).

    $$ g_i = \mathrm{clip}\Big(\frac{\sum_j A^E_{ij}\rho_j + W^\mathrm{in}_i \cdot \bar u
             - (1 - \lambda)\,(\theta_i + \mathrm{logit}(\rho_i)/c_i)}
             {\sum_j \hat A^I_{ij}\rho_j},\ 0,\ g_\max\Big) , $$

    so that with $\beta = 0$ and these gains (``ei_params(net, base, 0.0, gain=g)``) the
    rates $r = \rho$ are a fixed point of the noise-free map with input $\bar u$. Traceable.

    Args:
        net, base: from :func:`ei_reservoir`.
        rho: targets, scalar or ``(N,)``, in (0, 1).
        w_in: the input weights in use (``ei_params``' second output).
        u_bar: mean input ``(n_in,)`` (e.g. the mean of the training input).
        unit: the units' :class:`~neurojax.SigmoidRateParams` (or overrides); default c = 10.
        g_max: upper clip of the gains.

    Returns:
        ``(N,)`` gains $g_i$.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from neurojax.reservoirs import ei
        >>> net, base = ei.ei_reservoir(jax.random.key(1), 40, k=10, rule=None)
        >>> _, w_in = ei.ei_params(net, base)
        >>> g = ei.one_step_design(net, base, 0.5, w_in, jnp.zeros(1))
        >>> round(float(g.mean()), 1)                # rho = 0.5, no input: balance, g ~ 1
        1.0
    """
    _check_net(net)
    if unit is None or isinstance(unit, dict):
        unit = SigmoidRateParams.default(**(unit or {}))
    n = net.populations[RES].n
    rho_arr = _concrete(rho)
    if rho_arr is not None and not ((rho_arr > 0) & (rho_arr < 1)).all():
        raise ValueError(f"one_step_design: rho must be in (0, 1), got values in "
                         f"[{rho_arr.min()}, {rho_arr.max()}]")
    rho = jnp.broadcast_to(jnp.asarray(rho, base.exc.dtype), (n,))
    exc = event_scatter_reference(net.projections[EXC].conn.post_idx, base.exc, rho, n)
    inh = event_scatter_reference(net.projections[INH].conn.post_idx, base.inh, rho, n)
    ext = w_in @ jnp.asarray(u_bar, w_in.dtype).reshape(w_in.shape[1])
    logit = jnp.log(rho) - jnp.log1p(-rho)
    g = (exc + ext - (1.0 - unit.lam) * (unit.theta + logit / unit.c)) / inh
    return jnp.clip(g, 0.0, g_max)


def target_rates(key, n: int, rho_bar: float = 0.5, *, dist: str = "beta", a: float = 2.0,
                 b: float = 2.0, sigma: float = 0.5, low: float = 0.02,
                 high: float = 0.98) -> np.ndarray:
    r"""Per-unit target rates around $\bar\rho$ (specs/reservoirs.md §4.5), clipped to
    ``[low, high]`` (clipping moves the mean a little).

    * ``"constant"``: $\rho_i = \bar\rho$.
    * ``"beta"``: $\rho_i = \bar\rho\, X_i (a + b)/a$, $X_i \sim \mathrm{Beta}(a, b)$ (mean
      $\bar\rho$; Beta(2, 2) gives $2\bar\rho X_i$ on $(0, 2\bar\rho)$).
    * ``"lognormal"``: $\rho_i = \bar\rho\, e^{\sigma Z_i - \sigma^2/2}$, $Z_i \sim \mathcal N(0,1)$.

    Examples:
        >>> import jax
        >>> from neurojax.reservoirs import ei
        >>> rho = ei.target_rates(jax.random.key(0), 20000, 0.3)
        >>> round(float(rho.mean()), 2), float(rho.max()) <= 0.6
        (0.3, True)
    """
    n = check_int(n, "target_rates: n")
    if dist not in TARGETS:
        raise ValueError(f"target_rates: dist must be one of {TARGETS}, got {dist!r}")
    if not 0 < low <= rho_bar <= high < 1:
        raise ValueError(f"target_rates: need 0 < low <= rho_bar <= high < 1, got low={low}, "
                         f"rho_bar={rho_bar}, high={high}")
    if not (a > 0 and b > 0 and sigma >= 0):
        raise ValueError(f"target_rates: need a > 0, b > 0, sigma >= 0, got {a}, {b}, {sigma}")
    rng = numpy_rng(key)
    if dist == "constant":
        rho = np.full(n, float(rho_bar))
    elif dist == "beta":
        rho = rho_bar * rng.beta(a, b, n) * (a + b) / a
    else:
        rho = rho_bar * np.exp(sigma * rng.standard_normal(n) - 0.5 * sigma ** 2)
    return np.clip(rho, low, high)


def rate_error(rates, rho) -> Array:
    """$\\frac1N\\sum_i |\\langle r_i\\rangle_t - \\rho_i|$ for ``rates`` ``(T, N)`` (or the means
    ``(N,)``)."""
    rates = jnp.asarray(rates)
    means = rates.mean(0) if rates.ndim == 2 else rates
    return jnp.mean(jnp.abs(means - jnp.broadcast_to(jnp.asarray(rho, means.dtype), means.shape)))


def score_harvest(harvest_fn: Callable, alpha, task: Task, *, solver: str = "auto",
                  return_details: bool = False):
    """Score any reservoir given as a state-harvesting function, with the protocol of
    :func:`neurojax.reservoirs.score`.

    ``harvest_fn(inputs)`` maps the task's ``(T, n_in)`` inputs to ``(T, n_features)`` states,
    starting from the reservoir's initial state (one run: the test rows continue from the
    last training state). The split, ridge fit and metric are
    :func:`~neurojax.reservoirs.tasks.score_states`'.

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> from neurojax.reservoirs import ei
        >>> task = nj.reservoirs.tasks.memory_capacity(3, seed=0)
        >>> delay_line = lambda u: jnp.concatenate([jnp.roll(u, d, 0) for d in range(4)], 1)
        >>> round(float(ei.score_harvest(delay_line, 1e-9, task)), 6)   # remembers 3 delays
        3.0
    """
    states = harvest_fn(task.inputs)
    if np.ndim(states) != 2 or np.shape(states)[0] != task.inputs.shape[0]:
        raise ValueError(f"score_harvest: harvest_fn must return ({task.inputs.shape[0]}, "
                         f"n_features) states, got shape {np.shape(states)}")
    return score_states(states[:task.n_train], states[task.n_train:], alpha, task,
                        solver=solver, return_details=return_details)


def score_ei(net: Network, params: dict, w_in: Array, alpha, task: Task, *,
             solver: str = "auto", return_details: bool = False,
             checkpoint_every: Optional[int] = None):
    """The task's score of the E/I reservoir (states $r(t)$ from :func:`harvest`, starting at
    ``init_state``), by :func:`score_harvest`. Pure and differentiable in ``params``/``w_in``
    (e.g. through :func:`ei_params` in $\\beta$ and $\\sigma_\\mathrm{in}$)."""
    return score_harvest(
        lambda u: harvest(net, params, w_in, u, checkpoint_every=checkpoint_every)[1],
        alpha, task, solver=solver, return_details=return_details)
