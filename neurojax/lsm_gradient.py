r"""Gradient-trained liquid: BPTT through the static NALSM liquid with surrogate spikes.

The liquid is the static ``"lsm"`` model of :mod:`neurojax.lsm` (same connectome, same
:class:`~neurojax.DiscreteLIF` neurons, :class:`~neurojax.ResetKernel` + :class:`~neurojax.Instant`
synapses, same Bernoulli input encoding, no plasticity). It is made differentiable by the
straight-through surrogate spike of :class:`~neurojax.DiscreteLIF` (forward: the exact test
$v \ge \theta$, so forward spike counts are *identical* to :func:`neurojax.lsm.sample_features`;
backward: SuperSpike $\partial s/\partial v = [1 + \beta\lvert v-\theta\rvert/(\theta -
v_\mathrm{reset})]^{-2}/(\theta - v_\mathrm{reset})$, $\beta = 10$). The loss is
differentiated by backpropagation through time through :func:`neurojax.simulate`'s
``lax.scan`` (optionally rematerialised in segments, ``checkpoint_every``) and ``vmap`` over a
mini-batch.

**Trainable parameters** (:class:`GradParams`):

| field     | symbol                | shape        | unit / meaning                                   |
|-----------|-----------------------|--------------|--------------------------------------------------|
| w_in      | $W^\mathrm{in}$       | (n_in, k)    | input weights on the liquid's *sparse* input table (mV per unit kernel, as ``liquid.weights["inp->L"]``) |
| log_g_in  | $\log g_\mathrm{in}$  | ()           | global input gain, $W^\mathrm{in}_\mathrm{eff} = g_\mathrm{in} W^\mathrm{in}$ |
| log_g_rec | $\log g_\mathrm{rec}$ | ()           | global recurrent scale on the fixed E and I weights |
| w_out     | $W$                   | (N, K)       | linear readout                                   |
| b_out     | $b$                   | (K,)         | readout bias                                     |

The input weights stay on the liquid's existing sparse input connectivity (15 % of the
(input, neuron) pairs): training changes their values (and signs), not the connectome, so the
gradient-trained model is the *same* liquid as the fixed-feature baseline and the comparison
isolates the effect of training; a dense input layer would also change the architecture.

**Feature and readout.** For sample $b$ with liquid spikes $s_{b,i}(t)$ (reference time
$t = 1 \dots T-1$, $T$ = ``sample_ms``) the count is $c_{bi} = \sum_t s_{b,i}(t)$ and the
feature is the per-sample L1-normalised count rescaled to mean 1,

$$ z_{bi} = N \frac{c_{bi}}{\sum_j c_{bj}} \quad (0 \text{ for a silent sample}), $$

which is NALSM's :func:`~neurojax.lsm.normalize_counts` (row L1 normalisation, then division
by the mini-batch maximum) up to the per-mini-batch scalar, made per-sample so that the
feature does not depend on how samples are batched. The readout is linear softmax,
$p_b = \mathrm{softmax}(z_b W + b)$, with NALSM's soft targets
(:func:`~neurojax.lsm.soft_targets`) and loss :func:`~neurojax.lsm.readout_loss`
(cross-entropy + $\tfrac{\lambda_2}{2}\lVert W\rVert^2$).

**Inputs.** Input neuron $k$ of sample $i$ receives ``input_current`` (100) at step $t$ iff
$u_{tk} < x_{ik}$ with $u$ = ``jax.random.uniform(fold_in(key, i), (T-1, n_in))``: the same
draws as :func:`neurojax.lsm.sample_features` for sample index $i$. The draws are a fixed
function of (key, sample index), so the loss is a deterministic function of the parameters
(the same spike trains every epoch).

Examples:
    >>> import jax, numpy as np
    >>> from neurojax import lsm, lsm_gradient as lg
    >>> liq = lsm.build_liquid(jax.random.PRNGKey(0), (2, 2, 2), 4, lsm.LiquidConfig(model="lsm"))
    >>> x = np.full((3, 4), 0.5)                              # spike probability per ms
    >>> gp = lg.init_params(liq, n_classes=2)
    >>> c = lg.liquid_counts(liq, gp, x, jax.random.PRNGKey(2), sample_ms=30)
    >>> ref, _, _ = lsm.sample_features(liq, None, x, jax.random.PRNGKey(2), sample_ms=30,
    ...                                 progress=False)
    >>> bool((c == ref).all())                                # forward = the fixed liquid
    True
    >>> loss, g = lg.loss_and_grad(liq, gp, x[:2], np.array([0, 1]), np.arange(2),
    ...                            jax.random.PRNGKey(2), sample_ms=30)
    >>> g.w_in.shape == liq.weights["inp->L"].shape, bool(np.isfinite(float(loss)))
    (True, True)

References:
    Ivanov & Michmizos (2021), NeurIPS 34 (the liquid); Zenke & Ganguli (2018), "SuperSpike:
    supervised learning in multilayer spiking neural networks", Neural Comput. 30 (surrogate);
    Neftci, Mostafa & Zenke (2019), "Surrogate gradient learning in spiking neural networks",
    IEEE Signal Process. Mag. 36.
"""
import dataclasses
import functools
import time
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from neurojax import lsm
from neurojax._params import float_dtype
from neurojax.simulate import simulate

Array = jax.Array

__all__ = ["GradParams", "TRAINABLE", "GradConfig", "init_params", "network_params",
           "input_drive", "count_features", "batch_counts", "liquid_counts", "loss_and_grad",
           "accuracy", "fit"]

#: groups of trainable parameters accepted by :class:`GradConfig` ``trainable``
TRAINABLE = ("w_in", "g_in", "g_rec", "readout")


class GradParams(NamedTuple):
    w_in: Array       # (n_in, k) input weights on the sparse input table (0 on padding)
    log_g_in: Array   # ()        log of the global input gain
    log_g_rec: Array  # ()        log of the global recurrent scale (E->L and I->L)
    w_out: Array      # (N, K)    readout weights
    b_out: Array      # (K,)      readout bias


def _check_static(liquid):
    if not isinstance(liquid, lsm.Liquid):
        raise TypeError(f"liquid must be a neurojax.lsm.Liquid, got {type(liquid).__name__}")
    if liquid.config.model != "lsm":
        raise ValueError(f"lsm_gradient needs the static liquid (LiquidConfig.model='lsm'), "
                         f"got model={liquid.config.model!r}")


def init_params(liquid: "lsm.Liquid", n_classes: int = 10, weights: Optional[dict] = None
                ) -> GradParams:
    """Initial :class:`GradParams`: the liquid's input weights, unit scales, zero readout.

    Args:
        liquid: a static liquid (``LiquidConfig(model="lsm")``) from
            :func:`neurojax.lsm.build_liquid`.
        n_classes: readout classes $K$.
        weights: liquid weights (default ``liquid.weights``); only ``"inp->L"`` is used here.
    """
    _check_static(liquid)
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}")
    weights = liquid.weights if weights is None else weights
    dtype = float_dtype()
    return GradParams(w_in=jnp.asarray(weights["inp->L"], dtype),
                      log_g_in=jnp.zeros((), dtype), log_g_rec=jnp.zeros((), dtype),
                      w_out=jnp.zeros((liquid.n, int(n_classes)), dtype),
                      b_out=jnp.zeros((int(n_classes),), dtype))


def network_params(base: dict, gp: GradParams) -> dict:
    r"""The simulator's ``params`` with $W^\mathrm{in}_\mathrm{eff} = g_\mathrm{in} W^\mathrm{in}$
    on ``"inp->L"`` (padding kept at 0) and $g_\mathrm{rec} W$ on ``"E->L"`` and ``"I->L"``.

    Args:
        base: ``lsm.liquid_params(liquid, None, "sample")`` of the static liquid.
        gp: :class:`GradParams`.
    """
    p = dict(base)
    g_in, g_rec = jnp.exp(gp.log_g_in), jnp.exp(gp.log_g_rec)
    p["inp->L"] = base["inp->L"]._replace(w=g_in * gp.w_in)
    for name in ("E->L", "I->L"):
        p[name] = base[name]._replace(w=g_rec * base[name].w)
    return p


def input_drive(x, key, index, n_steps: int, current) -> Array:
    r"""External current of the input neurons for sample ``index``:
    ``current * [u < x]`` with ``u = uniform(fold_in(key, index), (n_steps, n_in))``
    (``x`` (n_in,) spike probabilities per ms), the draws of
    :func:`neurojax.lsm.sample_features`."""
    return lsm._drive(x, jax.random.fold_in(key, index), n_steps, current)


def _liquid_spike_float(state):
    """Recorder: the liquid's (surrogate-carrying) spikes of the step, float."""
    return state.pops["L"].spike


def count_features(counts) -> Array:
    r"""$z_{bi} = N c_{bi} / \sum_j c_{bj}$ (0 for a silent sample); differentiable.

    Examples:
        >>> from neurojax import lsm_gradient as lg
        >>> lg.count_features([[1.0, 3.0], [0.0, 0.0]]).tolist()
        [[0.5, 1.5], [0.0, 0.0]]
    """
    c = jnp.asarray(counts)
    c = c.astype(jnp.result_type(float, c))
    l1 = c.sum(axis=-1, keepdims=True)
    return jnp.where(l1 > 0, c.shape[-1] * c / jnp.where(l1 > 0, l1, 1.0), 0.0)


def batch_counts(net, base, gp: GradParams, state0, x, index, key, current, *, n_steps: int,
                 checkpoint_every: Optional[int] = None) -> Array:
    r"""Differentiable spike counts ``(B, N)`` of a batch (not jitted; call inside ``jit``).

    Args:
        net: ``liquid.network("sample")``; base: its params (:func:`neurojax.lsm.liquid_params`);
        state0: :func:`neurojax.lsm.initial_state`; x: ``(B, n_in)`` probabilities;
        index: ``(B,)`` sample indices (seed the Bernoulli draws); key: split key;
        current: input current per event; n_steps: ``sample_ms - 1``.
    """
    params = network_params(base, gp)

    def one(x_i, i):
        drive = input_drive(x_i, key, i, n_steps, current)
        _, s = simulate(net, params, state0, {"inp": drive}, record=_liquid_spike_float,
                        checkpoint_every=checkpoint_every)
        return s.sum(axis=0)

    return jax.vmap(one)(x, index)


def _loss(gp, net, base, state0, x, y, index, mask, key, current, l2, n_steps, n_classes,
          checkpoint_every):
    c = batch_counts(net, base, gp, state0, x, index, key, current, n_steps=n_steps,
                     checkpoint_every=checkpoint_every)
    z = count_features(c)
    loss = lsm.readout_loss((gp.w_out, gp.b_out), z, lsm.soft_targets(y, n_classes), l2, mask)
    correct = ((jnp.argmax(z @ gp.w_out + gp.b_out[None, :], axis=-1) == y) * mask).sum()
    return loss, (correct, c)


def _setup(liquid):
    net = liquid.network("sample")
    base = lsm.liquid_params(liquid, None, "sample")
    state0 = lsm.initial_state(net, base)
    current = jnp.asarray(liquid.config.input_current, float_dtype())
    return net, base, state0, current


def _n_steps(sample_ms):
    n_steps = int(sample_ms) - 1
    if n_steps < 1:
        raise ValueError(f"sample_ms must be >= 2, got {sample_ms!r}")
    return n_steps


def _check_x(liquid, x, what="x"):
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != liquid.n_in:
        raise ValueError(f"{what} must be (n, n_in={liquid.n_in}) spike probabilities, "
                         f"got shape {x.shape}")
    if x.shape[0] < 1:
        raise ValueError(f"{what}: no samples")
    if not (np.all(np.isfinite(x)) and x.min() >= 0 and x.max() <= 1):
        raise ValueError(f"{what} must hold probabilities in [0, 1]")
    return x


@functools.partial(jax.jit, static_argnames=("n_steps",))
def _counts_jit(net, base, gp, state0, x, index, key, current, n_steps):
    return batch_counts(net, base, gp, state0, x, index, key, current, n_steps=n_steps)


def liquid_counts(liquid, gp: GradParams, x, key, *, sample_ms: int = 250,
                  batch_size: int = 50) -> np.ndarray:
    """Forward spike counts ``int32 (n, N)`` of every sample (sample ``i`` draws with
    ``fold_in(key, i)``), in padded batches of ``batch_size`` (one compile)."""
    _check_static(liquid)
    n_steps = _n_steps(sample_ms)
    x = _check_x(liquid, x)
    net, base, state0, current = _setup(liquid)
    n = x.shape[0]
    bs = max(1, min(int(batch_size), n))
    out = np.zeros((n, liquid.n), np.int32)
    xd = jnp.asarray(x, float_dtype())
    for b0 in range(0, n, bs):
        idx = np.minimum(np.arange(b0, b0 + bs), n - 1)
        c = _counts_jit(net, base, gp, state0, xd[idx], jnp.asarray(idx), key, current,
                        n_steps=n_steps)
        real = np.arange(b0, b0 + bs) < n
        out[idx[real]] = np.rint(np.asarray(c)[real]).astype(np.int32)
    return out


@functools.partial(jax.jit, static_argnames=("n_steps", "n_classes", "checkpoint_every"))
def _value_and_grad(gp, net, base, state0, x, y, index, mask, key, current, l2, n_steps,
                    n_classes, checkpoint_every):
    return jax.value_and_grad(_loss, has_aux=True)(gp, net, base, state0, x, y, index, mask, key,
                                                   current, l2, n_steps, n_classes,
                                                   checkpoint_every)


def loss_and_grad(liquid, gp: GradParams, x, y, index, key, *, sample_ms: int = 250,
                  l2: float = 5e-10, checkpoint_every: Optional[int] = None):
    """Mean readout loss of a batch and its gradient (a :class:`GradParams`) by BPTT.

    Args:
        x: ``(B, n_in)`` probabilities; y: ``(B,)`` labels; index: ``(B,)`` sample indices
            (their Bernoulli draws use ``fold_in(key, index)``).
    """
    _check_static(liquid)
    n_steps = _n_steps(sample_ms)
    x = _check_x(liquid, x)
    y, index = np.asarray(y), np.asarray(index)
    if y.shape != (x.shape[0],) or index.shape != (x.shape[0],):
        raise ValueError(f"y and index must be ({x.shape[0]},), got {y.shape} and {index.shape}")
    net, base, state0, current = _setup(liquid)
    dtype = float_dtype()
    (loss, _), g = _value_and_grad(gp, net, base, state0, jnp.asarray(x, dtype), jnp.asarray(y),
                                   jnp.asarray(index), jnp.ones(x.shape[0], dtype), key, current,
                                   jnp.asarray(l2, dtype), n_steps=n_steps,
                                   n_classes=gp.b_out.shape[0], checkpoint_every=checkpoint_every)
    return loss, g


def accuracy(gp: GradParams, counts, labels) -> float:
    """Accuracy of the readout of ``gp`` on ``(n, N)`` counts."""
    z = count_features(jnp.asarray(counts, float_dtype()))
    pred = np.asarray(jnp.argmax(z @ gp.w_out + gp.b_out[None, :], axis=-1))
    return float(np.mean(pred == np.asarray(labels)))


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GradConfig:
    r"""Training hyper-parameters of :func:`fit`.

    | field            | default                       | meaning                                  |
    |------------------|-------------------------------|------------------------------------------|
    | trainable        | ("w_in", "readout")           | subset of :data:`TRAINABLE`              |
    | epochs           | 30                            | passes over the training set             |
    | batch_size       | 32                            | samples per Adam step (shuffled per epoch) |
    | lr_liquid        | 1e-2                          | Adam rate of $W^\mathrm{in}$ and the log scales |
    | lr_readout       | 1e-2                          | Adam rate of $W, b$                      |
    | clip             | 1.0                           | global gradient-norm clip                |
    | cosine           | True                          | cosine decay of both rates to 0 over all steps |
    | l2               | 5e-10                         | $\lambda_2$ of :func:`~neurojax.lsm.readout_loss` |
    | sample_ms        | 100                           | sample length (ms; $T - 1$ BPTT steps)   |
    | checkpoint_every | None                          | remat segment length (divides $T-1$)     |
    | patience         | None                          | stop after this many epochs without a better validation accuracy |
    | min_best_epoch   | 0                             | the best epoch is chosen among epochs >= this (1: never the initial parameters, e.g. for a warm start) |
    | seed             | 0                             | mini-batch order                         |
    | eval_batch       | 100                           | forward batch for val / test counts      |

    ``trainable`` without ``"w_in"``, ``"g_in"`` and ``"g_rec"`` trains the readout alone on
    the fixed features (the same optimiser, loss and feature: the frozen-liquid control).
    """

    trainable: tuple = ("w_in", "readout")
    epochs: int = 30
    batch_size: int = 32
    lr_liquid: float = 1e-2
    lr_readout: float = 1e-2
    clip: float = 1.0
    cosine: bool = True
    l2: float = 5e-10
    sample_ms: int = 100
    checkpoint_every: Optional[int] = None
    patience: Optional[int] = None
    min_best_epoch: int = 0
    seed: int = 0
    eval_batch: int = 100

    def __post_init__(self):
        bad = set(self.trainable) - set(TRAINABLE)
        if bad or not self.trainable:
            raise ValueError(f"GradConfig.trainable must be a non-empty subset of {TRAINABLE}, "
                             f"got {self.trainable!r}")
        for name in ("epochs", "batch_size", "eval_batch"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"GradConfig.{name} must be a positive int, got {v!r}")
        for name in ("lr_liquid", "lr_readout", "clip"):
            if not getattr(self, name) > 0:
                raise ValueError(f"GradConfig.{name} must be > 0, got {getattr(self, name)!r}")
        if self.l2 < 0:
            raise ValueError(f"GradConfig.l2 must be >= 0, got {self.l2!r}")
        _n_steps(self.sample_ms)
        if self.checkpoint_every is not None and (self.sample_ms - 1) % self.checkpoint_every:
            raise ValueError(f"GradConfig.checkpoint_every={self.checkpoint_every} must divide "
                             f"sample_ms - 1 = {self.sample_ms - 1}")
        if self.min_best_epoch < 0 or self.min_best_epoch > self.epochs:
            raise ValueError(f"GradConfig.min_best_epoch must lie in [0, epochs], "
                             f"got {self.min_best_epoch!r}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"GradConfig.patience must be >= 1 or None, got {self.patience!r}")

    @property
    def trains_liquid(self) -> bool:
        return bool({"w_in", "g_in", "g_rec"} & set(self.trainable))


def _optimizer(trainable: tuple, lr_liquid: float, lr_readout: float, clip: float,
               total_steps: int = 0):
    """Adam per group (cosine decay to 0 over ``total_steps`` if > 0), global-norm clip."""
    import optax

    def rate(lr):
        return optax.cosine_decay_schedule(lr, total_steps) if total_steps > 0 else lr

    labels = GradParams(w_in="liq" if "w_in" in trainable else "off",
                        log_g_in="liq" if "g_in" in trainable else "off",
                        log_g_rec="liq" if "g_rec" in trainable else "off",
                        w_out="out" if "readout" in trainable else "off",
                        b_out="out" if "readout" in trainable else "off")
    return optax.chain(optax.clip_by_global_norm(clip), optax.multi_transform(
        {"liq": optax.adam(rate(lr_liquid)), "out": optax.adam(rate(lr_readout)),
         "off": optax.set_to_zero()},
        labels))


@functools.partial(jax.jit, static_argnames=("n_steps", "n_classes", "checkpoint_every", "opt"))
def _train_step(gp, opt_state, net, base, state0, x, y, index, mask, key, current, l2, n_steps,
                n_classes, checkpoint_every, opt):
    tx = _optimizer(*opt)
    (loss, (correct, _)), g = jax.value_and_grad(_loss, has_aux=True)(
        gp, net, base, state0, x, y, index, mask, key, current, l2, n_steps, n_classes,
        checkpoint_every)
    g = g._replace(w_in=jnp.where(base["inp->L"].w != 0, g.w_in, 0.0))     # padding stays 0
    updates, opt_state = tx.update(g, opt_state, gp)
    gp = jax.tree.map(lambda p, u: p + u, gp, updates)
    return gp, opt_state, loss, correct


@functools.partial(jax.jit, static_argnames=("n_classes", "opt"))
def _readout_step(gp, opt_state, z, y, mask, l2, n_classes, opt):
    tx = _optimizer(*opt)

    def loss(gp):
        val = lsm.readout_loss((gp.w_out, gp.b_out), z, lsm.soft_targets(y, n_classes), l2, mask)
        correct = ((jnp.argmax(z @ gp.w_out + gp.b_out[None, :], axis=-1) == y) * mask).sum()
        return val, correct

    (val, correct), g = jax.value_and_grad(loss, has_aux=True)(gp)
    updates, opt_state = tx.update(g, opt_state, gp)
    return jax.tree.map(lambda p, u: p + u, gp, updates), opt_state, val, correct


def fit(liquid, train, val, test, key_train, key_val, key_test, config: GradConfig = GradConfig(),
        *, gp: Optional[GradParams] = None, n_classes: int = 10, progress: bool = False) -> dict:
    r"""Train the liquid's input weights / scales and the readout by BPTT with Adam.

    Every epoch: a new random order of the training samples, mini-batches of
    ``batch_size`` (the last one padded and masked), one Adam step per mini-batch on the
    loss of :func:`neurojax.lsm.readout_loss` (gradient clipped to global norm ``clip``;
    separate Adam rates for the liquid parameters and the readout, both decayed to 0 by a
    cosine schedule over ``epochs`` if ``cosine``). After each epoch the
    validation and test counts are recomputed with the current parameters (forward pass) and
    scored; the training accuracy is the running accuracy of the epoch's mini-batches. The
    result is the test accuracy at the first epoch with the best validation accuracy (early
    stopping after ``patience`` epochs without improvement if set). If no liquid parameter is
    trainable the features are computed once and only the readout is trained (same optimiser,
    loss and feature).

    Args:
        liquid: static liquid; train/val/test: ``(x (n, n_in), labels (n,))``;
        key_train/key_val/key_test: Bernoulli keys of the splits (sample ``i`` of a split uses
            ``fold_in(key, i)``, as :func:`neurojax.lsm.sample_features`).
        gp: initial parameters (default :func:`init_params`).

    Returns:
        dict: ``test_accuracy``, ``val_accuracy``, ``train_accuracy`` (at the best epoch),
        ``best_epoch`` (1-based; 0 = before training), ``epochs_run``, ``steps``, ``curves``
        (``train``/``val``/``test`` accuracy and ``loss`` per epoch, index 0 = before training
        for val/test), ``params`` (best :class:`GradParams`), ``g_in``/``g_rec`` at the best
        epoch, ``seconds`` and ``cpu_seconds``.
    """
    _check_static(liquid)
    if not isinstance(config, GradConfig):
        raise TypeError(f"config must be a GradConfig, got {type(config).__name__}")
    cfg = config
    n_steps = _n_steps(cfg.sample_ms)
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = train, val, test
    x_tr, x_va, x_te = (_check_x(liquid, a, w) for a, w in ((x_tr, "train x"), (x_va, "val x"),
                                                             (x_te, "test x")))
    y_tr, y_va, y_te = (np.asarray(a) for a in (y_tr, y_va, y_te))
    for name, xx, yy in (("train", x_tr, y_tr), ("val", x_va, y_va), ("test", x_te, y_te)):
        if yy.shape != (xx.shape[0],):
            raise ValueError(f"{name} labels must be ({xx.shape[0]},), got {yy.shape}")
        if yy.min() < 0 or yy.max() >= n_classes:
            raise ValueError(f"{name} labels must lie in [0, n_classes={n_classes})")
    gp = init_params(liquid, n_classes) if gp is None else gp
    net, base, state0, current = _setup(liquid)
    dtype = float_dtype()
    rng = np.random.default_rng(cfg.seed)
    n, bs = len(y_tr), min(cfg.batch_size, len(y_tr))
    nb = -(-n // bs)
    opt = (tuple(cfg.trainable), float(cfg.lr_liquid), float(cfg.lr_readout), float(cfg.clip),
           nb * cfg.epochs if cfg.cosine else 0)
    opt_state = _optimizer(*opt).init(gp)
    l2 = jnp.asarray(cfg.l2, dtype)
    xd_tr = jnp.asarray(x_tr, dtype)

    def counts(gp, x, key):
        return liquid_counts(liquid, gp, x, key, sample_ms=cfg.sample_ms,
                             batch_size=cfg.eval_batch)

    t0, c0 = time.perf_counter(), time.process_time()
    fixed = None
    if not cfg.trains_liquid:
        fixed = {s: count_features(jnp.asarray(counts(gp, x, k), dtype))
                 for s, x, k in (("train", x_tr, key_train), ("val", x_va, key_val),
                                 ("test", x_te, key_test))}

    def evaluate(gp):
        if fixed is not None:
            zs = (fixed["val"], fixed["test"])
        else:
            zs = tuple(count_features(jnp.asarray(counts(gp, x, k), dtype))
                       for x, k in ((x_va, key_val), (x_te, key_test)))
        preds = (np.asarray(jnp.argmax(z @ gp.w_out + gp.b_out[None, :], -1)) for z in zs)
        return tuple(float(np.mean(p == y)) for p, y in zip(preds, (y_va, y_te)))

    curves = {"train": [float("nan")], "loss": [float("nan")]}
    curves["val"], curves["test"] = ([a] for a in evaluate(gp))
    best = {"epoch": 0, "val": curves["val"][0] if cfg.min_best_epoch == 0 else -1.0,
            "test": curves["test"][0], "train": float("nan"), "params": gp}
    steps, since = 0, 0
    bar = lsm._progress(progress, cfg.epochs, "BPTT (epochs)") if progress else None
    for epoch in range(1, cfg.epochs + 1):
        order = rng.permutation(n)
        order = np.concatenate([order, order[:nb * bs - n]])
        mask_all = np.concatenate([np.ones(n), np.zeros(nb * bs - n)])
        tot_loss, tot_correct = 0.0, 0.0
        for b in range(nb):
            idx = order[b * bs:(b + 1) * bs]
            m = jnp.asarray(mask_all[b * bs:(b + 1) * bs], dtype)
            yb = jnp.asarray(y_tr[idx])
            if fixed is None:
                gp, opt_state, loss, correct = _train_step(
                    gp, opt_state, net, base, state0, xd_tr[idx], yb, jnp.asarray(idx), m,
                    key_train, current, l2, n_steps=n_steps, n_classes=n_classes,
                    checkpoint_every=cfg.checkpoint_every, opt=opt)
            else:
                gp, opt_state, loss, correct = _readout_step(
                    gp, opt_state, fixed["train"][idx], yb, m, l2, n_classes=n_classes, opt=opt)
            steps += 1
            tot_loss += float(loss) * float(m.sum())
            tot_correct += float(correct)
        curves["loss"].append(tot_loss / n)
        curves["train"].append(tot_correct / n)
        a_val, a_test = evaluate(gp)
        curves["val"].append(a_val)
        curves["test"].append(a_test)
        if bar is not None:
            bar.update(1)
        if a_val > best["val"] and epoch >= cfg.min_best_epoch:
            best = {"epoch": epoch, "val": a_val, "test": a_test, "train": curves["train"][-1],
                    "params": gp}
            since = 0
        else:
            since += epoch >= cfg.min_best_epoch
            if cfg.patience is not None and since >= cfg.patience:
                break
    if bar is not None:
        bar.close()
    bp = best["params"]
    return {"test_accuracy": best["test"], "val_accuracy": best["val"],
            "train_accuracy": best["train"], "best_epoch": best["epoch"],
            "epochs_run": len(curves["val"]) - 1, "steps": steps, "curves": curves,
            "params": bp, "g_in": float(jnp.exp(bp.log_g_in)),
            "g_rec": float(jnp.exp(bp.log_g_rec)),
            "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}
