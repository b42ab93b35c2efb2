r"""The dm_control swimmer and the NCAP "swim" task, as a pure JAX environment on MJX and as a
fast MuJoCo C backend built from the same model.

Body (rebuilt here from dm_control's procedural rules, no dm_control at run time): ``n_links``
rigid links of length 0.1 m in a planar chain; the head points along its local $-y$ axis.
Every link carries an invisible box of half-sizes (0.001, 0.05, 0.01) m and mass 0.01 kg (the
visible geoms are massless). The head has three root joints (slide $x$, slide $y$, hinge $z$,
unlimited); each of the ``n_links - 1`` body joints is a hinge at the junction with its parent,
range $\pm 360/n_{links}$ degrees (soft limit: solref (0.05, 1), solimp (0, 0.8, 0.1)),
armature 1e-6, driven by a motor of gear 5e-4 N m with control range $[-1, 1]$. The medium is
MuJoCo's inertia-box fluid model with density 3000 kg/m^3 and no viscosity (a 50x anisotropic
quadratic drag, which turns a travelling bending wave into thrust). Contacts are disabled
(and every geom's contype/conaffinity is 0, which MJX needs). Euler integrator, physics
timestep 2 ms.

Task ("swim", Bhattasali et al. 2022): one control step = 30 ms = 15 physics substeps with the
action held (zero-order hold, actions clipped to $[-1, 1]$); 1000 control steps per episode, no
early termination. The reward of a control step is computed on the state *after* it:

$$ r = \mathrm{clip}(v / 0.1, 0, 1), \qquad v = \sin\theta \, \dot x - \cos\theta \, \dot y ,$$

$v$ being the head's forward speed (minus the $y$ component of the head velocimeter in the head
frame), $\theta$ = ``qpos[2]`` (the heading hinge) and $(\dot x, \dot y)$ = ``qvel[0:2]``.

Observation (flat, ``4 * n_links`` numbers, in this order):

| slice | content | unit |
|-------|---------|------|
| ``[0, n_joints)`` | body joint angles ``qpos[3:]`` (joint 0 next to the head) | rad |
| ``[n_joints, n_joints + 3 n_links)`` | per link (head first): local $(v_x, v_y, \omega_z)$ | m/s, rad/s |
| ``[-1]`` | time feature $\tau = -1 + 2k/1000$ after $k$ control steps | 1 |

Reset (identical to dm_control's swimmer with ``RandomState(seed)``): heading uniform in
$[-\pi, \pi)$, then each body joint uniform within its limits, in joint order; root position 0,
all velocities 0.

Two backends, the same model and numbers (returns agree to 1e-3, see tests/test_swimmer.py):

* :class:`Swimmer` (MJX): pure ``init`` / ``step`` on ``mjx.Data``; jit-, scan- and
  vmap-able; differentiable (reverse mode needs ``solver_iterations=1``: MJX's Newton solver
  loop is not reverse-differentiable).
* :class:`SwimmerC` (MuJoCo C ``mj_step``): a batch of bodies stepped from Python, for fast
  CPU rollouts (ES, RL baselines) and as the test oracle. On a 2-core CPU it is 25-60x faster
  per core than MJX.

References:
    Tassa et al. (2018), *DeepMind Control Suite*, arXiv:1801.00690 (the swimmer body).
    Bhattasali, Zador & Engel (2022), *Neural circuit architectural priors for embodied
    control*, NeurIPS 35 (the swim task).

Examples:
    >>> from neurojax.embodied.swimmer import SwimmerC
    >>> env = SwimmerC(n_links=6)
    >>> datas, obs = env.reset([0])
    >>> obs.shape, env.obs_size, env.n_joints
    ((1, 24), 24, 5)
    >>> round(float(obs[0, -1]), 6)    # time feature at reset
    -1.0
"""
import dataclasses
from typing import NamedTuple, Sequence

import numpy as np

CONTROL_TIMESTEP = 0.03      # s
PHYSICS_TIMESTEP = 0.002     # s
EPISODE_STEPS = 1000         # control steps (30 s)
DESIRED_SPEED = 0.1          # m/s, reward saturates above

__all__ = ["swimmer_xml", "swimmer_model", "reset_qpos", "Swimmer", "SwimmerC", "SwimState",
           "forward_speed", "swim_reward", "CONTROL_TIMESTEP", "PHYSICS_TIMESTEP",
           "EPISODE_STEPS", "DESIRED_SPEED"]


def _require_mujoco():
    try:
        import mujoco
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("the swimmer needs MuJoCo: pip install mujoco mujoco-mjx "
                          "(or neurojax[embodied])") from err
    return mujoco


def _import_mjx():
    """``mujoco.mjx``, silencing its harmless "Failed to import warp" notice on CPU."""
    import contextlib
    import io
    _require_mujoco()
    with contextlib.redirect_stdout(io.StringIO()):
        from mujoco import mjx
    return mjx


def _check_links(n_links):
    if not isinstance(n_links, int) or isinstance(n_links, bool) or n_links < 3:
        raise ValueError(f"n_links must be an int >= 3, got {n_links!r}")


def swimmer_xml(n_links: int = 6) -> str:
    """MJCF of the dm_control swimmer with ``n_links`` links (written from its rules).

    Physics-relevant content equals dm_control's ``swimmer.get_model_and_assets(n_links)``
    (masses, inertias, positions, joints, limits, actuators, medium, options, the head and
    per-link velocimeter/gyro sensors); cameras, lights, materials, the floor and the target
    are left out (they have no effect with contacts disabled).
    """
    _check_links(n_links)
    limit = 360.0 / n_links
    rng = f"{-limit} {limit}"
    # The chain is nested: segment_0 inside the head, segment_1 inside segment_0, ...
    inner = ""
    for i in reversed(range(n_links - 1)):
        inner = (f'<body name="segment_{i}" pos="0 .1 0">'
                 f'<geom class="visual" name="visual_{i}"/><geom class="inertial" name="inertial_{i}"/>'
                 f'<site name="site_{i}"/><joint name="joint_{i}" range="{rng}"/>{inner}</body>')
    motors = "".join(f'<motor name="motor_{i}" joint="joint_{i}"/>' for i in range(n_links - 1))
    sensors = "".join(f'<velocimeter name="velocimeter_{i}" site="site_{i}"/>'
                      f'<gyro name="gyro_{i}" site="site_{i}"/>' for i in range(n_links - 1))
    return f"""<mujoco model="swimmer{n_links}">
  <option timestep="{PHYSICS_TIMESTEP}" density="3000"><flag contact="disable"/></option>
  <default>
    <default class="swimmer">
      <joint type="hinge" pos="0 -.05 0" axis="0 0 1" limited="true" solreflimit=".05 1"
             solimplimit="0 .8 .1" armature="1e-6"/>
      <default class="inertial"><geom type="box" size=".001 .05 .01" rgba="0 0 0 0" mass=".01"
               contype="0" conaffinity="0"/></default>
      <default class="visual"><geom type="capsule" size=".01" fromto="0 -.05 0 0 .05 0" mass="0"
               contype="0" conaffinity="0"/></default>
      <site size=".01" rgba="0 0 0 0"/>
    </default>
    <default class="free"><joint limited="false" stiffness="0" armature="0"/></default>
    <motor gear="5e-4" ctrllimited="true" ctrlrange="-1 1"/>
  </default>
  <worldbody>
    <body name="head" pos="0 0 .05" childclass="swimmer">
      <geom name="head" type="ellipsoid" size=".02 .04 .017" pos="0 -.022 0" mass="0"
            contype="0" conaffinity="0"/>
      <geom name="nose" type="sphere" pos="0 -.06 0" size=".004" mass="0" contype="0" conaffinity="0"/>
      <joint name="rootx" class="free" type="slide" axis="1 0 0" pos="0 -.05 0"/>
      <joint name="rooty" class="free" type="slide" axis="0 1 0" pos="0 -.05 0"/>
      <joint name="rootz" class="free" type="hinge" axis="0 0 1" pos="0 -.05 0"/>
      <geom name="inertial" class="inertial"/>
      <geom name="visual" class="visual"/>
      <site name="head"/>
      {inner}
    </body>
  </worldbody>
  <actuator>{motors}</actuator>
  <sensor><velocimeter name="head_vel" site="head"/><gyro name="head_gyro" site="head"/>{sensors}</sensor>
</mujoco>"""


def swimmer_model(n_links: int = 6, timestep: float = PHYSICS_TIMESTEP,
                  solver_iterations=None, integrator: str = "EULER"):
    """Compiled ``mujoco.MjModel`` of :func:`swimmer_xml` (all geoms collision-free).

    Args:
        timestep: physics timestep in s (dm_control: 0.002).
        solver_iterations: override ``opt.iterations`` (1 makes MJX reverse-differentiable).
        integrator: ``"EULER"`` (dm_control) or ``"RK4"``.
    """
    mujoco = _require_mujoco()
    if not timestep > 0:
        raise ValueError(f"timestep must be > 0 s, got {timestep!r}")
    m = mujoco.MjModel.from_xml_string(swimmer_xml(n_links))
    m.opt.timestep = timestep
    m.opt.integrator = getattr(mujoco.mjtIntegrator, "mjINT_" + integrator.upper())
    if solver_iterations is not None:
        m.opt.iterations = int(solver_iterations)
    return m


def reset_qpos(n_links: int, seed) -> np.ndarray:
    """Initial ``qpos`` of dm_control's swimmer reset with ``numpy.random.RandomState(seed)``.

    Heading uniform in $[-\\pi, \\pi)$, then each body joint uniform in $\\pm 2\\pi/n_{links}$
    (the same floating-point limits as MuJoCo's degree-to-radian conversion), in joint order.
    """
    _check_links(n_links)
    r = np.random.RandomState(seed)
    qpos = np.zeros(n_links + 2)
    qpos[2] = r.uniform(-np.pi, np.pi)
    limit = (360.0 / n_links) * (np.pi / 180.0)
    for j in range(n_links - 1):
        qpos[3 + j] = r.uniform(-limit, limit)
    return qpos


def forward_speed(qpos, qvel):
    """Head forward speed $v = \\sin\\theta\\,\\dot x - \\cos\\theta\\,\\dot y$ (m/s); works on
    NumPy or JAX arrays, with leading batch axes."""
    xp = _xp(qpos)
    th = qpos[..., 2]
    return xp.sin(th) * qvel[..., 0] - xp.cos(th) * qvel[..., 1]


def swim_reward(v, desired_speed: float = DESIRED_SPEED):
    """$\\mathrm{clip}(v / v^*, 0, 1)$."""
    xp = _xp(v)
    return xp.clip(v / desired_speed, 0.0, 1.0)


def _xp(x):
    if isinstance(x, np.ndarray) or np.isscalar(x):
        return np
    import jax.numpy as jnp
    return jnp


def _observation(qpos, sensordata, k, episode_steps):
    """Flat observation from ``qpos``, ``sensordata`` (6 per link) and the step count ``k``."""
    xp = _xp(qpos)
    vel = sensordata.reshape(sensordata.shape[:-1] + (-1, 6))[..., (0, 1, 5)]
    vel = vel.reshape(vel.shape[:-2] + (-1,))
    tau = -1.0 + 2.0 * xp.asarray(k, dtype=qpos.dtype) / episode_steps
    tau = xp.broadcast_to(tau, qpos.shape[:-1])[..., None]
    return xp.concatenate([qpos[..., 3:], vel, tau], axis=-1)


@dataclasses.dataclass(frozen=True, eq=False)
class _Spec:
    n_links: int = 6
    timestep: float = PHYSICS_TIMESTEP
    control_timestep: float = CONTROL_TIMESTEP
    episode_steps: int = EPISODE_STEPS
    desired_speed: float = DESIRED_SPEED
    solver_iterations: object = None
    integrator: str = "EULER"

    def __post_init__(self):
        _check_links(self.n_links)
        n_sub = self.control_timestep / self.timestep
        if abs(n_sub - round(n_sub)) > 1e-6 or round(n_sub) < 1:
            raise ValueError(f"control_timestep ({self.control_timestep}) must be a whole multiple "
                             f"of timestep ({self.timestep})")
        if not isinstance(self.episode_steps, int) or self.episode_steps < 1:
            raise ValueError(f"episode_steps must be a positive int, got {self.episode_steps!r}")
        object.__setattr__(self, "mj_model", swimmer_model(
            self.n_links, self.timestep, self.solver_iterations, self.integrator))

    @property
    def n_substeps(self) -> int:
        """Physics substeps per control step (15 at the dm_control settings)."""
        return int(round(self.control_timestep / self.timestep))

    @property
    def n_joints(self) -> int:
        """Actuated body joints (= action size) = ``n_links - 1``."""
        return self.n_links - 1

    @property
    def obs_size(self) -> int:
        """``n_joints + 3 n_links + 1`` = ``4 n_links``."""
        return self.n_joints + 3 * self.n_links + 1

    def obs_slices(self) -> dict:
        """Named slices of the flat observation."""
        nj, nl = self.n_joints, self.n_links
        return {"joints": slice(0, nj), "body_velocities": slice(nj, nj + 3 * nl),
                "time": slice(nj + 3 * nl, nj + 3 * nl + 1)}


class SwimState(NamedTuple):
    data: object        # mjx.Data of the body
    k: object           # int32 control steps taken since reset


@dataclasses.dataclass(frozen=True, eq=False)
class Swimmer(_Spec):
    """The swimmer + swim task on MJX: pure ``init`` / ``step`` (module docstring for the math).

    Hashable by identity, so it can be a static argument of ``jax.jit``. Arrays follow JAX's
    default float type (float32 unless x64 is enabled; float32 reproduces the float64 C
    returns to 1e-3).

    Args:
        n_links: number of links (>= 3); ``n_links - 1`` actuated joints.
        timestep, control_timestep: physics and control steps in s (0.002 and 0.03).
        episode_steps: control steps per episode (1000); only sets the time feature's scale.
        desired_speed: speed at which the reward saturates (0.1 m/s).
        solver_iterations: ``None`` (MuJoCo's 100) or e.g. 1 for reverse-mode gradients.
        integrator: ``"EULER"`` or ``"RK4"``.

    Examples:
        >>> from neurojax.embodied.swimmer import Swimmer
        >>> env = Swimmer(n_links=3)
        >>> env.n_substeps, env.n_joints, env.obs_size
        (15, 2, 12)

        One control step, jitted (compiling MJX takes ~30-100 s on a CPU)::

            state, obs = env.init(env.reset_qpos(0))
            state, obs, reward = jax.jit(env.step)(state, jnp.zeros(env.n_joints))
    """

    def __post_init__(self):
        super().__post_init__()
        mjx = _import_mjx()
        object.__setattr__(self, "mjx_model", mjx.put_model(self.mj_model))

    def reset_qpos(self, seed) -> np.ndarray:
        """dm_control-identical initial ``qpos`` for ``seed`` (host side, NumPy)."""
        return reset_qpos(self.n_links, seed)

    def init(self, qpos):
        """State and observation at reset from an initial ``qpos`` (velocities 0).

        Use :meth:`reset_qpos` (dm_control's seeded draw) or :meth:`random_qpos` (jax.random);
        vmap over ``qpos`` for a batch of bodies.
        """
        import jax
        import jax.numpy as jnp
        mjx = _import_mjx()
        with jax.numpy_rank_promotion("allow"):
            d = mjx.make_data(self.mjx_model)
            d = d.replace(qpos=jnp.asarray(qpos, d.qpos.dtype))
            d = mjx.forward(self.mjx_model, d)
        k = jnp.zeros((), jnp.int32)
        return SwimState(d, k), _observation(d.qpos, d.sensordata, k, self.episode_steps)

    def random_qpos(self, key):
        """Initial ``qpos`` drawn with ``jax.random`` (same distribution as dm_control's reset,
        not the same numbers)."""
        import jax
        import jax.numpy as jnp
        k1, k2 = jax.random.split(key)
        limit = 2 * jnp.pi / self.n_links
        head = jax.random.uniform(k1, (1,), minval=-jnp.pi, maxval=jnp.pi)
        joints = jax.random.uniform(k2, (self.n_joints,), minval=-limit, maxval=limit)
        return jnp.concatenate([jnp.zeros(2), head, joints])

    def step(self, state: SwimState, action, observe: bool = True):
        """One control step: ``n_substeps`` MJX steps with ``clip(action, -1, 1)`` held.

        Args:
            observe: compute the full observation (needs one extra ``mjx.forward`` so that the
                sensors describe the state after the step, as dm_control does). With ``False``
                the body-velocity entries are zeros (cheaper; enough for NCAP, which reads
                only joint angles).

        Returns:
            ``(state, obs, reward)``.
        """
        import jax
        import jax.numpy as jnp
        mjx = _import_mjx()
        m = self.mjx_model
        with jax.numpy_rank_promotion("allow"):
            d = state.data.replace(ctrl=jnp.clip(jnp.asarray(action, state.data.ctrl.dtype), -1.0, 1.0))

            def sub(d, _):
                return mjx.step(m, d), None
            d = jax.lax.scan(sub, d, None, length=self.n_substeps)[0]
            if observe:
                d = mjx.forward(m, d)
                sens = d.sensordata
            else:
                sens = jnp.zeros_like(d.sensordata)
        k = state.k + 1
        reward = swim_reward(forward_speed(d.qpos, d.qvel), self.desired_speed)
        return SwimState(d, k), _observation(d.qpos, sens, k, self.episode_steps), reward


@dataclasses.dataclass(frozen=True, eq=False)
class SwimmerC(_Spec):
    """The same body and task on MuJoCo C (float64), a batch of bodies stepped from Python.

    Matches dm_control's swim task exactly (same model, reset, legacy-step sensor refresh).
    Used for fast CPU rollouts and as the oracle for :class:`Swimmer`.

    Args: as :class:`Swimmer`.
    """

    def reset_qpos(self, seed) -> np.ndarray:
        return reset_qpos(self.n_links, seed)

    def reset(self, seeds: Sequence[int] = (), qpos=None):
        """New ``MjData`` per seed (or per row of ``qpos``) and the ``(B, obs_size)`` observation."""
        mujoco = _require_mujoco()
        m = self.mj_model
        rows = [self.reset_qpos(s) for s in seeds] if qpos is None else list(np.asarray(qpos, float))
        datas = []
        for q in rows:
            d = mujoco.MjData(m)
            d.qpos[:] = q
            mujoco.mj_forward(m, d)
            datas.append(d)
        return datas, self._obs(datas, 0)

    def _obs(self, datas, k):
        qpos = np.stack([d.qpos for d in datas])
        sens = np.stack([d.sensordata for d in datas])
        return _observation(qpos, sens, k, self.episode_steps)

    def step(self, datas, actions, k: int):
        """Advance every body one control step; ``k`` = steps taken before this one.

        Returns ``(obs (B, obs_size), reward (B,))`` for the states after the step.
        """
        mujoco = _require_mujoco()
        m = self.mj_model
        actions = np.clip(np.asarray(actions, float), -1.0, 1.0)
        n = self.n_substeps
        for d, a in zip(datas, actions):
            d.ctrl[:] = a
            mujoco.mj_step(m, d, n)
            mujoco.mj_step1(m, d)          # refresh sensors for the new state (legacy step)
        qpos = np.stack([d.qpos for d in datas])
        qvel = np.stack([d.qvel for d in datas])
        reward = swim_reward(forward_speed(qpos, qvel), self.desired_speed)
        return self._obs(datas, k + 1), reward

    def episode(self, policy, seeds: Sequence[int] = (), qpos=None, n_steps=None,
                record: bool = False):
        """Closed-loop episodes of a batch of bodies; ``policy(obs (B, d), k) -> (B, n_joints)``.

        Returns ``{"returns": (B,), "rewards": (T, B)}`` plus ``"obs"`` (T + 1, B, d) and
        ``"actions"`` (T, B, n_joints) with ``record=True``.
        """
        T = self.episode_steps if n_steps is None else int(n_steps)
        datas, obs = self.reset(seeds, qpos)
        rewards, all_obs, all_act = [], [obs], []
        for k in range(T):
            a = np.asarray(policy(obs, k), float)
            obs, r = self.step(datas, a, k)
            rewards.append(r)
            if record:
                all_obs.append(obs)
                all_act.append(a)
        rewards = np.asarray(rewards)
        out = {"returns": rewards.sum(0), "rewards": rewards}
        if record:
            out["obs"], out["actions"] = np.asarray(all_obs), np.asarray(all_act)
        return out
