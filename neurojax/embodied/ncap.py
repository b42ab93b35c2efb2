r"""NCAP: the C. elegans-inspired swimmer controller (Bhattasali, Zador & Engel 2022), built from
neurojax graded units (:class:`~neurojax.neurons.ClippedLinear`) and projections.

Circuit for $N$ joints (joint 0 next to the head), one control step $k$, $g(x) = \mathrm{clip}(x, 0, 1)$,
$\mathrm{exc}(w) = \max(w, 0)$, $\mathrm{inh}(w) = \min(w, 0)$ (the sign constraint, applied in the
forward pass; with ``sign_constraint=False`` the raw weight is used):

* stretch receptors (population ``S``, $2N$ units, dorsal then ventral):
  $s^d_i = g(\hat q_i)$, $s^v_i = g(-\hat q_i)$ with $\hat q_i = \mathrm{clip}(q_i / (2\pi/(N+1)), -1, 1)$
  (the joint angle over its limit);
* head oscillator (``O``, 2 units): a square wave of period $P = 60$ control steps,
  $o^d = [k \bmod P < P/2]$, $o^v = 1 - o^d$;
* B-neurons (``B``, $2N$): $b^x_0 = g(o^x\,\mathrm{exc}(w_{osc}))$,
  $b^x_i = g(s^x_{i-1}\,\mathrm{exc}(w_{prop}))$ for $i \ge 1$;
* muscles (``M``, $2N$): $m^d_i = g(b^d_i\,\mathrm{exc}(w_{ipsi}) + b^v_i\,\mathrm{inh}(w_{contra}))$ and
  the mirror image for $m^v_i$;
* action $a_i = m^d_i - m^v_i \in [-1, 1]$.

| param | symbol | sign | shared shape | unshared shape | constant init |
|-------|--------|------|--------------|----------------|---------------|
| ``w_prop``   | $w_{prop}$   | exc | () | (2, N-1): [d, v] x joints 1..N-1 | +1 |
| ``w_osc``    | $w_{osc}$    | exc | () | (2,): [d, v] onto joint 0 | +1 |
| ``w_ipsi``   | $w_{ipsi}$   | exc | () | (2, N): into [d, v] muscle of joint i | +1 |
| ``w_contra`` | $w_{contra}$ | inh | () | (2, N): into [d, v] muscle of joint i | -1 |

So 4 parameters shared (for any body length) and $6N$ unshared (30 for the 6-link swimmer).
Initialisations (:meth:`NCAP.init_params`): sign-constrained + constant (exc +1, inh -1, the
default); sign-constrained + random (exc ~ U(0, 1), inh ~ U(-1, 0)); unconstrained + constant
(each weight +1 or -1 with probability 1/2); unconstrained + random (U(-1, 1)).

Why a neurojax :class:`~neurojax.network.Network` and three ticks per control step: NCAP's
units are memoryless (the output follows the input in the same control step), while neurojax
projections have a delay of at least one network step (no zero-delay loops). The circuit is a
feed-forward stack of three layers (S and O, then B, then M), so running the network for three
ticks with the sensory input held makes every layer read the current control step's values:
after tick 3 the muscles hold exactly the memoryless NCAP output, whatever the state before (a
fresh state is used every control step, so the controller carries no state across steps; its
clock is the step counter ``k`` of the rollout carry, not the observation's time feature). The
projections use the :class:`~neurojax.synapses.Instant` synapse and graded sources ``r``.
:func:`ncap_closed_form` is the same map written directly (the test oracle).

Examples:
    >>> import jax.numpy as jnp
    >>> from neurojax.embodied.ncap import NCAP
    >>> ctrl = NCAP(n_joints=5)
    >>> p = ctrl.init_params()
    >>> ctrl.n_params
    4
    >>> q = jnp.array([0.5, -0.2, 0.0, 0.1, 0.3])      # joint angles (rad)
    >>> [round(float(a), 4) for a in ctrl.act(p, q, 0)] # head: +1; joint i: q_{i-1} / limit
    [1.0, 0.4775, -0.191, 0.0, 0.0955]
"""
import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from neurojax.connectivity import from_edges
from neurojax.network import Network, Population, SimState
from neurojax.neurons import ClippedLinear, ClippedLinearParams
from neurojax.projections import ProjParams, Projection, init_proj_state
from neurojax.simulate import step as network_step
from neurojax.synapses import Instant, InstantParams

Array = jax.Array

__all__ = ["NCAP", "NCAPParams", "ncap_closed_form", "EXCITATORY", "INHIBITORY"]

EXCITATORY = ("w_prop", "w_osc", "w_ipsi")
INHIBITORY = ("w_contra",)
TICKS = 3   # network steps per control step: S/O -> B -> M


class NCAPParams(NamedTuple):
    w_prop: Array    # 1, exc: stretch of joint i-1 -> B-neurons of joint i
    w_osc: Array     # 1, exc: head oscillator -> B-neurons of joint 0
    w_ipsi: Array    # 1, exc: B-neuron -> same-side muscle
    w_contra: Array  # 1, inh: B-neuron -> opposite-side muscle


def _exc(w, constrained):
    return jnp.maximum(w, 0.0) if constrained else w


def _inh(w, constrained):
    return jnp.minimum(w, 0.0) if constrained else w


@dataclasses.dataclass(frozen=True)
class NCAP:
    """The NCAP swimmer controller (module docstring for the circuit and parameters).

    Args:
        n_joints: actuated joints $N$ (= ``n_links - 1``), >= 2.
        shared: one weight per connection type (4 parameters) or one per synapse ($6N$).
        sign_constraint: apply exc/inh at use time (ablation: ``False`` uses raw weights).
        oscillator: include the head oscillator (ablation: ``False``).
        proprioception: include the stretch -> B-neuron coupling (ablation: ``False``).
        period: oscillator period in control steps (60 = 1.8 s).

    The policy interface shared with :class:`MLPPolicy`: ``act(params, obs, k)`` with the flat
    swimmer observation (only its first ``n_joints`` entries, the raw joint angles, are read)
    and the integer control step ``k``; ``needs_velocities = False``.
    """

    n_joints: int = 5
    shared: bool = True
    sign_constraint: bool = True
    oscillator: bool = True
    proprioception: bool = True
    period: int = 60

    needs_velocities = False

    def __post_init__(self):
        if not isinstance(self.n_joints, int) or isinstance(self.n_joints, bool) or self.n_joints < 2:
            raise ValueError(f"NCAP.n_joints must be an int >= 2, got {self.n_joints!r}")
        if not isinstance(self.period, int) or self.period < 2:
            raise ValueError(f"NCAP.period must be an int >= 2 (control steps), got {self.period!r}")

    # ---------------------------------------------------------------- parameters
    def shapes(self) -> dict:
        N = self.n_joints
        if self.shared:
            return {name: () for name in NCAPParams._fields}
        return {"w_prop": (2, N - 1), "w_osc": (2,), "w_ipsi": (2, N), "w_contra": (2, N)}

    def active(self) -> tuple:
        """Names of the parameters that take part (ablated pathways excluded)."""
        return tuple(n for n in NCAPParams._fields
                     if not (n == "w_osc" and not self.oscillator)
                     and not (n == "w_prop" and not self.proprioception))

    @property
    def n_params(self) -> int:
        """Trainable parameters of the active pathways (4 shared; 6N unshared)."""
        return int(sum(np.prod(self.shapes()[n], dtype=int) for n in self.active()))

    def init_params(self, key=None, magnitude: str = "constant") -> NCAPParams:
        """Initial weights: ``magnitude`` "constant" or "random"; signs follow ``sign_constraint``.

        Sign-constrained: exc +1 / inh -1 (constant) or exc U(0, 1) / inh U(-1, 0) (random).
        Unconstrained: each weight +-1 with probability 1/2 (constant) or U(-1, 1) (random);
        these need ``key``. Ablated pathways keep their entry (unused).
        """
        if magnitude not in ("constant", "random"):
            raise ValueError(f"magnitude must be 'constant' or 'random', got {magnitude!r}")
        needs_key = magnitude == "random" or not self.sign_constraint
        if needs_key and key is None:
            raise ValueError("init_params: this initialisation is random and needs a key")
        dtype = jnp.result_type(float)
        shapes = self.shapes()
        keys = dict(zip(NCAPParams._fields, jax.random.split(key, 4))) if needs_key else {}
        out = {}
        for name in NCAPParams._fields:
            sign = 1.0 if name in EXCITATORY else -1.0
            shape = shapes[name]
            if self.sign_constraint and magnitude == "constant":
                w = jnp.full(shape, sign, dtype)
            elif self.sign_constraint:
                w = sign * jax.random.uniform(keys[name], shape, dtype)
            elif magnitude == "constant":
                w = jnp.where(jax.random.bernoulli(keys[name], 0.5, shape), 1.0, -1.0).astype(dtype)
            else:
                w = jax.random.uniform(keys[name], shape, dtype, -1.0, 1.0)
            out[name] = w
        return NCAPParams(**out)

    def effective_weights(self, params: NCAPParams) -> NCAPParams:
        """Weights as used in the forward pass: sign constraint applied, ablated paths at 0,
        broadcast to the unshared shapes."""
        c = self.sign_constraint
        N = self.n_joints
        full = {"w_prop": (2, N - 1), "w_osc": (2,), "w_ipsi": (2, N), "w_contra": (2, N)}
        w = {"w_prop": _exc(params.w_prop, c), "w_osc": _exc(params.w_osc, c),
             "w_ipsi": _exc(params.w_ipsi, c), "w_contra": _inh(params.w_contra, c)}
        if not self.oscillator:
            w["w_osc"] = jnp.zeros_like(w["w_osc"])
        if not self.proprioception:
            w["w_prop"] = jnp.zeros_like(w["w_prop"])
        return NCAPParams(**{n: jnp.broadcast_to(w[n], full[n]) for n in NCAPParams._fields})

    # ---------------------------------------------------------------- the network
    def _edges(self):
        """Edge lists (pre, post, parameter index in the flattened unshared array) per projection."""
        N = self.n_joints
        i = np.arange(N)
        j = np.arange(1, N)
        edges = {
            # S[d_{i-1}] -> B[d_i], S[v_{i-1}] -> B[v_i]; w_prop[side, i-1]
            "prop": (np.r_[j - 1, N + j - 1], np.r_[j, N + j], np.r_[j - 1, (N - 1) + j - 1], 2 * N, 2 * N),
            # O[d] -> B[d_0], O[v] -> B[v_0]; w_osc[side]
            "osc": (np.array([0, 1]), np.array([0, N]), np.array([0, 1]), 2, 2 * N),
            # B[x_i] -> M[x_i]; w_ipsi[side, i] (into the muscle on that side)
            "ipsi": (np.r_[i, N + i], np.r_[i, N + i], np.r_[i, N + i], 2 * N, 2 * N),
            # B[v_i] -> M[d_i] uses w_contra[0, i]; B[d_i] -> M[v_i] uses w_contra[1, i]
            "contra": (np.r_[N + i, i], np.r_[i, N + i], np.r_[i, N + i], 2 * N, 2 * N),
        }
        return edges

    def network(self) -> Network:
        """The circuit as a neurojax Network: populations S, O, B, M (ClippedLinear) and the
        projections ``prop`` (S->B), ``osc`` (O->B), ``ipsi`` and ``contra`` (B->M)."""
        N = self.n_joints
        pops = {"S": Population(ClippedLinear(), 2 * N), "O": Population(ClippedLinear(), 2),
                "B": Population(ClippedLinear(), 2 * N), "M": Population(ClippedLinear(), 2 * N)}
        ends = {"prop": ("S", "B"), "osc": ("O", "B"), "ipsi": ("B", "M"), "contra": ("B", "M")}
        projs = {}
        for name, (pre, post, _, n_pre, n_post) in self._edges().items():
            conn = from_edges(pre, post, n_pre, n_post)
            projs[name] = Projection(conn, ends[name][0], ends[name][1], receptor="i",
                                     synapse=Instant(), source="r")
        return Network(pops, projs, dt=1.0, allow_large_dt=True)

    def _tables(self):
        """Host-side maps from each projection's (n_pre, k) table to flat parameter indices."""
        out = {}
        for name, (pre, post, idx, n_pre, n_post) in self._edges().items():
            with jax.ensure_compile_time_eval():     # host-side constants, also under jit
                conn, table = from_edges(pre, post, n_pre, n_post, weights=idx.astype(np.int32))
            mask = np.asarray(conn.post_idx) < n_post
            out[name] = (np.asarray(table), mask)
        return out

    def network_params(self, params: NCAPParams) -> dict:
        """neurojax params of :meth:`network` from NCAP weights (sign constraint applied here)."""
        w = self.effective_weights(params)
        flat = {"prop": w.w_prop.reshape(-1), "osc": w.w_osc.reshape(-1),
                "ipsi": w.w_ipsi.reshape(-1), "contra": w.w_contra.reshape(-1)}
        dtype = flat["ipsi"].dtype
        out = {p: ClippedLinearParams(bias=jnp.zeros((), dtype)) for p in ("S", "O", "B", "M")}
        for name, (table, mask) in self._tables().items():
            out[name] = ProjParams(w=jnp.where(mask, flat[name][table], 0.0), syn=InstantParams())
        return out

    def oscillator_signal(self, k, dtype=None):
        """$(o^d, o^v)$ at control step ``k``."""
        dtype = dtype or jnp.result_type(float)
        od = (jnp.asarray(k) % self.period < self.period // 2).astype(dtype)
        return jnp.stack([od, 1.0 - od])

    def act(self, params: NCAPParams, obs, k) -> Array:
        """Joint commands in [-1, 1] from the observation (joint angles first) at step ``k``."""
        N = self.n_joints
        q = jnp.asarray(obs)[..., :N]
        qn = jnp.clip(q / (2 * jnp.pi / (N + 1)), -1.0, 1.0)
        net = self.network()
        p = self.network_params(params)
        dtype = p["M"].bias.dtype
        pops = {name: pop.model.init(p[name], pop.n) for name, pop in net.populations.items()}
        projs = {name: init_proj_state(proj, p[name], dtype) for name, proj in net.projections.items()}
        state = SimState(t=jnp.zeros((), jnp.int32), pops=pops, projs=projs)
        inputs = {"S": jnp.concatenate([qn, -qn]).astype(dtype), "O": self.oscillator_signal(k, dtype)}
        for _ in range(TICKS):
            state = network_step(net, p, state, inputs)
        m = state.pops["M"].r
        return m[:N] - m[N:]


def ncap_closed_form(ctrl: NCAP, params: NCAPParams, joints, k) -> Array:
    """The NCAP map written directly (no Network): the oracle for :meth:`NCAP.act`."""
    N = ctrl.n_joints
    w = ctrl.effective_weights(params)
    qn = jnp.clip(jnp.asarray(joints)[:N] / (2 * jnp.pi / (N + 1)), -1.0, 1.0)
    s = jnp.stack([jnp.clip(qn, 0.0, 1.0), jnp.clip(-qn, 0.0, 1.0)])          # (2, N)
    o = ctrl.oscillator_signal(k, qn.dtype)
    drive = jnp.concatenate([(o * w.w_osc)[:, None], s[:, :-1] * w.w_prop], axis=1)
    b = jnp.clip(drive, 0.0, 1.0)
    m = jnp.clip(w.w_ipsi * b + w.w_contra * b[::-1], 0.0, 1.0)
    return m[0] - m[1]
