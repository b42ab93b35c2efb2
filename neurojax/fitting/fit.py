r"""Gradient fitting with many starts, and two gradient-free baselines.

:func:`fit` minimises $L(x) = \ell(x) + R(x)$ over the constrained parameters
$x = T(u)$ of a :class:`~neurojax.fitting.space.ParamSpace` by running an ``optax``
optimiser (Adam by default) on the unconstrained $u$, from ``n_starts`` starting points at
once (``jax.vmap`` over starts). One optimisation chunk (``chunk`` steps, a ``lax.scan``) is
jit-compiled once per ``(loss_fn, space, optimizer, chunk, regulariser)``; chunks are looped
in Python, which is where early stopping is checked and the tqdm bar advances.

:func:`random_search` and :func:`cma_es` take the same ``loss_fn`` and ``space`` and a budget
in loss evaluations, so the three can be compared at equal cost: one :func:`fit` step of one
start is one loss+gradient evaluation (reverse mode costs a small constant factor, typically
2-4x, more than a loss evaluation alone).

All three return a :class:`FitResult`. Its ``history`` is a table whose rows are iterations
and whose columns are the evaluations done in parallel in that iteration (starts for
:func:`fit`, a batch for :func:`random_search`, the population for :func:`cma_es`); cells
never evaluated are NaN. The best loss after ``k`` rows is therefore
``np.nanmin(history[:k])`` after ``k * history.shape[1]`` evaluations.

Long recordings: ``loss_fn`` may call ``nj.simulate(..., checkpoint_every=K)`` so that the
backward pass stores the state every ``K`` steps only (memory $O(T/K)$ instead of $O(T)$).
"""
import functools
import math
import time
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax

from neurojax._params import check_int, float_dtype
from neurojax.fitting.space import ParamSpace, _sample

__all__ = ["FitResult", "fit", "random_search", "cma_es"]


class FitResult(NamedTuple):
    """What a fit returns.

    Attributes:
        best_params: ``{name: scalar}`` constrained parameters with the lowest loss seen.
        best_loss: that loss (float).
        params: ``{name: (m,)}`` constrained: for :func:`fit` each start's best point
            (``m = n_starts``; for a start that has converged this is its last iterate), for
            :func:`random_search` every draw (``m = n_evals``), for :func:`cma_es` the last
            generation (``m = popsize``).
        losses: ``(m,)`` the losses of ``params`` (NaN for a start that never had a finite
            loss).
        history: ``(rows, cols)`` numpy array of losses, rows = iterations, cols = parallel
            evaluations (see the module docstring); NaN where nothing was evaluated.
        n_evals: number of loss evaluations spent (loss+gradient for :func:`fit`).
        seconds: wall time including compilation.
        n_nan: number of evaluations (random search, CMA-ES) or starts (``fit``) whose loss
            or gradient was not finite. Such points are never returned as best.
    """

    best_params: dict
    best_loss: float
    params: dict
    losses: np.ndarray
    history: np.ndarray
    n_evals: int
    seconds: float
    n_nan: int = 0


@functools.lru_cache(maxsize=None)
def _default_optimizer():
    """``optax.adam(1e-2)``, built once so that calls without ``optimizer`` share a compile."""
    return optax.adam(1e-2)


def _progress_bar(total: int, desc: str):
    try:
        from tqdm.auto import tqdm
    except ImportError as err:
        raise ImportError("progress=True needs tqdm: pip install tqdm "
                          "(or neurojax[experiments]), or pass progress=False") from err
    return tqdm(total=total, desc=desc, unit="step")


def _objective(loss_fn, space, regulariser, u):
    x = space.to_constrained(u)
    value = loss_fn(x)
    if regulariser is not None:
        value = value + regulariser(x)
    return value


def _where(cond, a, b):
    return jax.tree.map(lambda x, y: jnp.where(cond, x, y), a, b)


class _Carry(NamedTuple):
    u: dict            # current unconstrained point
    opt: object        # optimiser state
    best_u: dict       # lowest-loss point seen
    best: jax.Array    # its loss (inf until a finite loss is seen)
    ref: jax.Array     # loss at the last improvement by more than tol (early stopping)
    last: jax.Array    # step index of that improvement
    alive: jax.Array   # False once the loss or gradient was non-finite


@functools.partial(jax.jit, static_argnames=("space",))
def _constrained_batch(u, *, space):
    """``{name: (m,)}`` unconstrained -> constrained (or ``(m, d)`` vectors when ``u`` is an array)."""
    if not isinstance(u, dict):
        u = space._unravel(u)
    return jax.vmap(space.to_constrained)(u)


@functools.partial(jax.jit, static_argnames=("space", "optimizer"))
def _init_carry(init, *, space, optimizer):
    """The per-start optimiser carry at the constrained starts ``init`` (one compile)."""
    u0 = jax.vmap(space.to_unconstrained)(init)
    n = jax.tree.leaves(u0)[0].shape[0]
    inf = jnp.full((n,), jnp.inf, float_dtype())
    return _Carry(u=u0, opt=jax.vmap(optimizer.init)(u0), best_u=u0, best=inf, ref=inf,
                  last=jnp.zeros((n,), jnp.int32), alive=jnp.ones((n,), bool))


@functools.partial(jax.jit, static_argnames=("loss_fn", "space", "optimizer", "chunk",
                                             "regulariser"))
def _run_chunk(carry, step0, tol, *, loss_fn, space, optimizer, chunk, regulariser):
    """``chunk`` optimiser steps of every start: ``vmap`` over starts of a ``scan`` over steps."""
    value_and_grad = jax.value_and_grad(functools.partial(_objective, loss_fn, space, regulariser))
    update = optax.with_extra_args_support(optimizer).update

    def one_start(c: _Carry):
        def step(c: _Carry, i):
            loss, g = value_and_grad(c.u)
            loss = loss.astype(c.best.dtype)
            finite = jnp.isfinite(loss) & jnp.all(jnp.stack(
                [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(g)]))
            alive = c.alive & finite
            improved = alive & (loss < c.best)
            best_u = _where(improved, c.u, c.best_u)
            best = jnp.where(improved, loss, c.best)
            significant = alive & (loss < c.ref - tol)
            ref = jnp.where(significant, loss, c.ref)
            last = jnp.where(significant, step0 + i, c.last)
            updates, opt = update(g, c.opt, c.u, value=loss)
            # A start that failed is frozen at its best point.
            u = _where(alive, optax.apply_updates(c.u, updates), best_u)
            opt = _where(alive, opt, c.opt)
            return _Carry(u, opt, best_u, best, ref, last, alive), loss

        return jax.lax.scan(step, c, jnp.arange(chunk, dtype=jnp.int32))

    return jax.vmap(one_start)(carry)


def fit(loss_fn: Callable[[dict], jax.Array], space: ParamSpace, *, key, n_starts: int = 8,
        n_steps: int = 500, optimizer: Optional[optax.GradientTransformation] = None,
        init: Optional[dict] = None, regulariser: Optional[Callable[[dict], jax.Array]] = None,
        patience: Optional[int] = None, progress: bool = True, chunk: int = 50,
        tol: float = 0.0) -> FitResult:
    r"""Minimise ``loss_fn`` by gradient descent from ``n_starts`` starts at once.

    Each start $j$ runs $u_j^{k+1} = u_j^k + \mathrm{opt}(\nabla_u L(T(u_j^k)))$ with
    $L = $ ``loss_fn`` $+$ ``regulariser``, for ``n_steps`` steps; the point with the lowest
    $L$ seen is kept per start, and the best start is returned.

    Cost and compilation: one step is one loss+gradient evaluation per start, so
    ``n_evals = steps_run * n_starts``. The chunk function is jit-compiled once per
    ``(loss_fn, space, optimizer, chunk, regulariser)`` (all static: pass the same function
    objects to reuse a compilation; a new ``lambda`` per call recompiles), plus once more for
    a shorter last chunk when ``n_steps`` is not a multiple of ``chunk``. ``loss_fn``'s
    closed-over arrays are baked into the compiled program as constants.

    Failures: a start whose loss or gradient becomes NaN or infinite is frozen at its best
    point from that step on and counted in ``n_nan``; its failed points are never returned.
    If every start fails before its first finite loss, ``FloatingPointError`` is raised.

    Early stopping: with ``patience`` (steps), the run stops after a chunk once no start has
    improved its loss by more than ``tol`` for ``patience`` steps (checked between chunks,
    so the run may go up to ``chunk - 1`` steps past that point).

    Args:
        loss_fn: ``{name: scalar}`` (constrained, one start) -> scalar loss. Pure and
            differentiable; it closes over the frozen parameters and the data.
        space: the fitted parameters.
        key: PRNG key for the default starts (``space.sample(key, n_starts)``).
        n_starts: number of starts, run in parallel with ``vmap``.
        n_steps: maximum optimiser steps per start.
        optimizer: an ``optax`` transformation; default ``optax.adam(1e-2)`` (the same object
            every call, so the compile is shared). Its ``update`` also receives ``value=`` (the
            loss), so loss-aware transformations such as
            ``optax.contrib.reduce_on_plateau`` work; ones that evaluate the loss themselves
            (``optax.lbfgs`` line searches) are not supported, as their evaluations would not
            be counted.
        init: ``{name: (n_starts,)}`` constrained starts (inside the space's domain).
        regulariser: ``{name: scalar}`` -> scalar, added to the loss (e.g. a prior's negative
            log density); ``history`` and ``losses`` include it.
        patience: early stopping patience in steps (None: run all ``n_steps``).
        progress: show a tqdm bar per chunk (needs ``tqdm``).
        chunk: steps per compiled call.
        tol: minimum absolute decrease of a start's loss that counts as an improvement for
            early stopping (the best point itself is tracked strictly).

    Returns:
        :class:`FitResult`; ``history`` has shape ``(steps_run, n_starts)``: the loss of each
        start at each step (evaluated before that step's update).

    Examples:
        >>> import jax, optax
        >>> from neurojax import fitting
        >>> space = fitting.ParamSpace({"a": fitting.Bounded(-5.0, 5.0), "b": fitting.Positive()})
        >>> def loss(p):
        ...     return (p["a"] - 1.5) ** 2 + (p["b"] - 0.2) ** 2
        >>> res = fitting.fit(loss, space, key=jax.random.PRNGKey(0), n_starts=4, n_steps=600,
        ...                   optimizer=optax.adam(0.05), progress=False)
        >>> round(float(res.best_params["a"]), 4), round(float(res.best_params["b"]), 4)
        (1.5, 0.2)
        >>> res.n_evals, res.history.shape
        (2400, (600, 4))
    """
    t_start = time.perf_counter()
    if not isinstance(space, ParamSpace):
        raise TypeError(f"fit: space must be a ParamSpace, got {type(space).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"fit: loss_fn must be callable, got {loss_fn!r}")
    if regulariser is not None and not callable(regulariser):
        raise TypeError(f"fit: regulariser must be callable or None, got {regulariser!r}")
    n_starts = check_int(n_starts, "fit n_starts")
    n_steps = check_int(n_steps, "fit n_steps")
    chunk = min(check_int(chunk, "fit chunk"), n_steps)
    if patience is not None:
        patience = check_int(patience, "fit patience")
    tol = float(tol)
    if not (math.isfinite(tol) and tol >= 0):
        raise ValueError(f"fit: tol must be a finite number >= 0, got {tol}")
    optimizer = _default_optimizer() if optimizer is None else optimizer
    if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise TypeError(f"fit: optimizer must be an optax GradientTransformation, got {optimizer!r}")

    dtype = float_dtype()
    if init is None:
        init = space.sample(key, n_starts)
    else:
        space.validate(init, "fit init")
        for name in space.names:
            if np.shape(init[name]) != (n_starts,):
                raise ValueError(f"fit init['{name}'] must have shape (n_starts,) = ({n_starts},), "
                                 f"got {np.shape(init[name])}")
        init = {name: jnp.asarray(init[name], dtype) for name in space.names}
    carry = _init_carry(init, space=space, optimizer=optimizer)
    probe = jax.eval_shape(functools.partial(_objective, loss_fn, space, regulariser),
                           jax.tree.map(lambda x: x[0], carry.u))
    if probe.shape != ():
        raise TypeError(f"fit: loss_fn (+ regulariser) must return a scalar, got shape {probe.shape}")
    statics = dict(loss_fn=loss_fn, space=space, optimizer=optimizer, regulariser=regulariser)
    bar = _progress_bar(n_steps, "fit") if progress else None
    rows, done = [], 0
    try:
        while done < n_steps:
            n = min(chunk, n_steps - done)
            carry, losses = _run_chunk(carry, jnp.asarray(done, jnp.int32), jnp.asarray(tol, dtype),
                                       chunk=n, **statics)
            rows.append(np.asarray(losses).T)
            done += n
            best_now = np.asarray(carry.best)
            if bar is not None:
                bar.update(n)
                finite = best_now[np.isfinite(best_now)]
                if finite.size:
                    bar.set_postfix(best=f"{finite.min():.4g}")
            if patience is not None and done - int(np.max(np.asarray(carry.last))) > patience:
                break
    finally:
        if bar is not None:
            bar.close()

    best = np.asarray(carry.best)
    if not np.isfinite(best).any():
        raise FloatingPointError(f"fit: every one of the {n_starts} starts had a non-finite loss or "
                                 "gradient from its first evaluation on; check loss_fn and the "
                                 "space's ranges")
    j = int(np.argmin(np.where(np.isfinite(best), best, np.inf)))
    params = _constrained_batch(carry.best_u, space=space)
    return FitResult(best_params={k: v[j] for k, v in params.items()}, best_loss=float(best[j]),
                     params=params, losses=np.where(np.isfinite(best), best, np.nan),
                     history=np.concatenate(rows, axis=0), n_evals=done * n_starts,
                     seconds=time.perf_counter() - t_start,
                     n_nan=int(np.sum(~np.asarray(carry.alive))))


# ---------------------------------------------------------------------------------------
# Gradient-free baselines
# ---------------------------------------------------------------------------------------

@functools.partial(jax.jit, static_argnames=("loss_fn", "space"))
def _eval_batch(xs, *, loss_fn, space):
    """Losses of a batch of constrained points ``{name: (b,)}``."""
    return jax.vmap(loss_fn)(xs)


def _eval_vec(loss_fn, space, us):
    """Losses of unconstrained ``(b, d)`` points (traceable)."""
    return jax.vmap(lambda u: loss_fn(space.to_constrained(space._unravel(u))))(us)


def _best_of(losses: np.ndarray):
    """Index of the lowest finite loss, or None."""
    finite = np.isfinite(losses)
    if not finite.any():
        return None
    return int(np.argmin(np.where(finite, losses, np.inf)))


def random_search(loss_fn: Callable[[dict], jax.Array], space: ParamSpace, *, key, n_evals: int,
                  batch: int = 64) -> FitResult:
    r"""Evaluate ``n_evals`` independent draws of ``space.sample`` and keep the best.

    Draws are evaluated ``batch`` at a time (``vmap``, jit-compiled once per
    ``(loss_fn, space)`` and batch size; a shorter last batch compiles once more). Exactly
    ``n_evals`` losses are evaluated. Non-finite losses count in ``n_nan`` and are never
    returned as best.

    Args:
        loss_fn, space: as for :func:`fit`.
        key: PRNG key of the draws.
        n_evals: the budget (number of loss evaluations).
        batch: evaluations per compiled call.

    Returns:
        :class:`FitResult` with ``params``/``losses`` all draws ``(n_evals,)`` and
        ``history`` ``(ceil(n_evals / batch), batch)`` (NaN-padded last row).

    Examples:
        >>> import jax
        >>> from neurojax import fitting
        >>> space = fitting.ParamSpace({"a": fitting.Bounded(0.0, 1.0)})
        >>> res = fitting.random_search(lambda p: (p["a"] - 0.3) ** 2, space,
        ...                             key=jax.random.PRNGKey(1), n_evals=200, batch=64)
        >>> res.n_evals, res.history.shape, abs(float(res.best_params["a"]) - 0.3) < 0.02
        (200, (4, 64), True)
    """
    t_start = time.perf_counter()
    if not isinstance(space, ParamSpace):
        raise TypeError(f"random_search: space must be a ParamSpace, got {type(space).__name__}")
    n_evals = check_int(n_evals, "random_search n_evals")
    batch = min(check_int(batch, "random_search batch"), n_evals)
    xs = space.sample(key, n_evals)
    losses = []
    for i0 in range(0, n_evals, batch):
        chunk = {k: v[i0:i0 + batch] for k, v in xs.items()}
        losses.append(np.asarray(_eval_batch(chunk, loss_fn=loss_fn, space=space)))
    losses = np.concatenate(losses)
    if losses.shape != (n_evals,):
        raise TypeError(f"random_search: loss_fn must return a scalar, got per-point shape "
                        f"{losses.shape[1:]}")
    rows = math.ceil(n_evals / batch)
    history = np.full(rows * batch, np.nan)
    history[:n_evals] = losses
    j = _best_of(losses)
    if j is None:
        raise FloatingPointError(f"random_search: all {n_evals} losses were non-finite")
    return FitResult(best_params={k: v[j] for k, v in xs.items()}, best_loss=float(losses[j]),
                     params=xs, losses=losses, history=history.reshape(rows, batch),
                     n_evals=n_evals, seconds=time.perf_counter() - t_start,
                     n_nan=int(np.sum(~np.isfinite(losses))))


class _CMAConst(NamedTuple):
    """Strategy constants of (mu/mu_w, lambda)-CMA-ES (Hansen 2016, Table 1)."""

    weights: np.ndarray  # (mu,) positive recombination weights, sum 1
    mu_eff: float
    c_c: float
    c_s: float
    c_1: float
    c_mu: float
    d_s: float
    chi_n: float          # E||N(0, I)||


def cma_constants(n: int, popsize: int) -> _CMAConst:
    """Hansen's default strategy parameters for dimension ``n`` and population ``popsize``."""
    mu = popsize // 2
    w = math.log(mu + 0.5) - np.log(np.arange(1, mu + 1))
    w = w / w.sum()
    mu_eff = 1.0 / float(np.sum(w ** 2))
    c_c = (4 + mu_eff / n) / (n + 4 + 2 * mu_eff / n)
    c_s = (mu_eff + 2) / (n + mu_eff + 5)
    c_1 = 2 / ((n + 1.3) ** 2 + mu_eff)
    c_mu = min(1 - c_1, 2 * (mu_eff - 2 + 1 / mu_eff) / ((n + 2) ** 2 + mu_eff))
    d_s = 1 + 2 * max(0.0, math.sqrt((mu_eff - 1) / (n + 1)) - 1) + c_s
    chi_n = math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n ** 2))
    return _CMAConst(w, mu_eff, c_c, c_s, c_1, c_mu, d_s, chi_n)


class _CMAState(NamedTuple):
    mean: jax.Array      # (d,)
    sigma: jax.Array     # ()
    cov: jax.Array       # (d, d)
    p_s: jax.Array       # (d,) conjugate evolution path
    p_c: jax.Array       # (d,) evolution path
    gen: jax.Array       # () generation counter
    best_u: jax.Array    # (d,)
    best: jax.Array      # ()
    last_x: jax.Array    # (popsize, d) the last generation


def _cma_population(state: _CMAState, key, popsize: int):
    """``popsize`` draws ``m + sigma * B D z`` and the matching ``y = B D z``."""
    d = state.mean.shape[0]
    cov = 0.5 * (state.cov + state.cov.T)
    eigval, basis = jnp.linalg.eigh(cov)
    scale = jnp.sqrt(jnp.maximum(eigval, 1e-30))
    z = jax.random.normal(key, (popsize, d), state.mean.dtype)
    y = (z * scale[None, :]) @ basis.T
    return state.mean[None, :] + state.sigma * y, y, basis, scale


@functools.partial(jax.jit, static_argnames=("loss_fn", "space", "popsize", "n_gen", "rest",
                                             "sample_init"))
def _cma_run(mean0, sigma0, key, *, loss_fn, space, popsize, n_gen, rest, sample_init):
    """The whole CMA-ES run in one compile: initial mean (drawn from ``space.sample`` if
    ``sample_init``), ``n_gen`` generations (a ``lax.scan``), then ``rest`` extra draws from
    the final distribution."""
    key_init, key_run, key_tail = jax.random.split(key, 3)
    if sample_init:
        x0 = {name: v[0] for name, v in _sample(key_init, space=space, n=1).items()}
        mean0 = space._ravel(space.to_unconstrained(x0))
    dtype = mean0.dtype
    d = mean0.shape[0]
    k = cma_constants(d, popsize)
    weights = jnp.asarray(k.weights, dtype)
    mu = weights.shape[0]
    zeros = jnp.zeros((d,), dtype)
    state = _CMAState(mean=mean0, sigma=sigma0, cov=jnp.eye(d, dtype=dtype), p_s=zeros,
                      p_c=zeros, gen=jnp.asarray(0, jnp.int32), best_u=mean0,
                      best=jnp.asarray(jnp.inf, dtype), last_x=jnp.zeros((popsize, d), dtype))

    def generation(s: _CMAState, key):
        x, y, basis, scale = _cma_population(s, key, popsize)
        f = _eval_vec(loss_fn, space, x)
        ranked = jnp.where(jnp.isfinite(f), f, jnp.inf)       # failures rank last
        order = jnp.argsort(ranked)
        y_sel = y[order[:mu]]
        y_w = weights @ y_sel
        mean = s.mean + s.sigma * y_w
        inv_sqrt_c_y = basis @ ((basis.T @ y_w) / scale)
        p_s = (1 - k.c_s) * s.p_s + math.sqrt(k.c_s * (2 - k.c_s) * k.mu_eff) * inv_sqrt_c_y
        norm_ps = jnp.linalg.norm(p_s)
        gen = s.gen + 1
        h_s = (norm_ps / jnp.sqrt(1 - (1 - k.c_s) ** (2 * gen))
               < (1.4 + 2 / (d + 1)) * k.chi_n).astype(y.dtype)
        p_c = (1 - k.c_c) * s.p_c + h_s * math.sqrt(k.c_c * (2 - k.c_c) * k.mu_eff) * y_w
        delta_h = (1 - h_s) * k.c_c * (2 - k.c_c)
        rank_mu = (y_sel * weights[:, None]).T @ y_sel
        cov = ((1 + k.c_1 * delta_h - k.c_1 - k.c_mu) * s.cov
               + k.c_1 * jnp.outer(p_c, p_c) + k.c_mu * rank_mu)
        sigma = s.sigma * jnp.exp((k.c_s / k.d_s) * (norm_ps / k.chi_n - 1))
        i = order[0]
        improved = ranked[i] < s.best
        best_u = jnp.where(improved, x[i], s.best_u)
        best = jnp.where(improved, ranked[i], s.best)
        return _CMAState(mean, sigma, cov, p_s, p_c, gen, best_u, best, x), f

    state, f_hist = jax.lax.scan(generation, state, jax.random.split(key_run, n_gen))
    if rest:
        x_tail, _, _, _ = _cma_population(state, key_tail, rest)
        f_tail = _eval_vec(loss_fn, space, x_tail)
    else:
        x_tail, f_tail = jnp.zeros((0, d), dtype), jnp.zeros((0,), dtype)
    return state, f_hist, f_tail, x_tail


def cma_es(loss_fn: Callable[[dict], jax.Array], space: ParamSpace, *, key, n_evals: int,
           popsize: Optional[int] = None, sigma0: float = 0.3, init: Optional[dict] = None) -> FitResult:
    r"""Minimise ``loss_fn`` with the $(\mu/\mu_w, \lambda)$-CMA-ES in the unconstrained space.

    Each generation samples $\lambda$ points $u_k = m + \sigma y_k$, $y_k \sim
    \mathcal{N}(0, C)$, evaluates them in parallel (``vmap``), and updates the mean $m$
    (weighted recombination of the best $\mu = \lfloor\lambda/2\rfloor$), the step size
    $\sigma$ (cumulative step-size adaptation) and the covariance $C$ (rank-one + rank-$\mu$
    update), with all strategy constants at the defaults of Hansen's tutorial
    (:func:`cma_constants`): $\lambda = 4 + \lfloor 3 \ln d\rfloor$, weights
    $w_i \propto \ln(\mu + 1/2) - \ln i$, and the $c_c, c_\sigma, c_1, c_\mu, d_\sigma$ of
    its Table 1 (with the $h_\sigma$ stall of $p_c$).

    Budget: $\lfloor n_\mathrm{evals} / \lambda \rfloor$ full generations (one ``lax.scan``;
    the whole run is compiled once per ``(loss_fn, space, popsize, n_evals)``); a remainder
    $r = n_\mathrm{evals} \bmod \lambda$ is spent on $r$ extra draws from the final
    distribution. So exactly ``n_evals`` losses are evaluated. Non-finite losses rank last,
    count in ``n_nan`` and are never returned as best.

    Args:
        loss_fn, space: as for :func:`fit`.
        key: PRNG key (the initial mean, unless ``init``, and the populations).
        n_evals: the budget, ``>= popsize``.
        popsize: $\lambda$ (default $4 + \lfloor 3 \ln d \rfloor$).
        sigma0: initial step size in unconstrained units.
        init: optional ``{name: scalar}`` constrained initial mean (default one draw of
            ``space.sample``).

    Returns:
        :class:`FitResult` with ``params``/``losses`` the last generation, ``history``
        ``(generations (+1 if r), popsize)`` losses per generation (the remainder row
        NaN-padded).

    References:
        Hansen, N. (2016). The CMA Evolution Strategy: A Tutorial. arXiv:1604.00772.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from neurojax import fitting
        >>> space = fitting.ParamSpace({f"x{i}": fitting.Free() for i in range(3)})
        >>> sphere = lambda p: sum((p[k] - 0.5) ** 2 for k in p)
        >>> res = fitting.cma_es(sphere, space, key=jax.random.PRNGKey(0), n_evals=700)
        >>> res.n_evals, res.best_loss < 1e-8
        (700, True)
    """
    t_start = time.perf_counter()
    if not isinstance(space, ParamSpace):
        raise TypeError(f"cma_es: space must be a ParamSpace, got {type(space).__name__}")
    d = len(space)
    popsize = 4 + int(3 * math.log(d)) if popsize is None else check_int(popsize, "cma_es popsize", 2)
    if popsize < 2:
        raise ValueError(f"cma_es popsize must be >= 2, got {popsize}")
    n_evals = check_int(n_evals, "cma_es n_evals")
    if n_evals < popsize:
        raise ValueError(f"cma_es n_evals={n_evals} must be >= popsize={popsize}")
    sigma0 = float(sigma0)
    if not (math.isfinite(sigma0) and sigma0 > 0):
        raise ValueError(f"cma_es sigma0 must be a finite number > 0, got {sigma0}")
    dtype = float_dtype()
    if init is None:
        mean0 = jnp.zeros((d,), dtype)                       # replaced by a draw inside the run
    else:
        space.validate(init, "cma_es init")
        mean0 = space._ravel(space.to_unconstrained(init)).astype(dtype)
    n_gen, rest = divmod(n_evals, popsize)
    state, f_hist, f_tail, x_tail = _cma_run(
        mean0, jnp.asarray(sigma0, dtype), key, loss_fn=loss_fn, space=space, popsize=popsize,
        n_gen=n_gen, rest=rest, sample_init=init is None)
    history = np.asarray(f_hist)
    all_f = [history.reshape(-1)]
    best_u, best = np.asarray(state.best_u), float(state.best)
    if rest:
        f_tail = np.asarray(f_tail)
        all_f.append(f_tail)
        row = np.full((1, popsize), np.nan)
        row[0, :rest] = f_tail
        history = np.concatenate([history, row])
        j = _best_of(f_tail)
        if j is not None and f_tail[j] < best:
            best, best_u = float(f_tail[j]), np.asarray(x_tail[j])
    all_f = np.concatenate(all_f)
    if not math.isfinite(best):
        raise FloatingPointError(f"cma_es: all {n_evals} losses were non-finite")
    last_x = _constrained_batch(state.last_x, space=space)
    best_x = _constrained_batch(jnp.asarray(best_u)[None], space=space)
    return FitResult(best_params={k: v[0] for k, v in best_x.items()}, best_loss=best,
                     params=last_x,
                     losses=history[n_gen - 1], history=history, n_evals=int(all_f.size),
                     seconds=time.perf_counter() - t_start,
                     n_nan=int(np.sum(~np.isfinite(all_f))))
