"""The swimmer body and swim task: our procedural model vs dm_control's, the MuJoCo C backend
vs a dm_control environment on the same initial state (observation layout, reward, a short
trajectory), the reward's closed form vs the head velocimeter, and the MJX backend vs the C
backend (one jitted closed-loop scan, vmapped over bodies and parameter sets).

dm_control 1.0.50 indexes MjModel/MjData fields by name from a table that, with mujoco 4.x,
lists a few flex fields the bindings no longer have; :func:`_dm_control_env` drops just those
names from the table (a test-only shim) so that dm_control's swimmer physics loads.
"""
import dataclasses
import math

import numpy as np
import pytest

mujoco = pytest.importorskip("mujoco")

from neurojax.embodied import NCAP, SwimmerC, forward_speed, reset_qpos, swimmer_model  # noqa: E402

# float64 MuJoCo on both sides: same model, same operations -> equal to rounding.
TOL_SAME_ENGINE = 1e-9
# MJX (JAX, float64) vs MuJoCo C (float64) after 15 control steps (225 physics steps).
TOL_MJX_F64 = 1e-6

PHYSICS_FIELDS = ("body_mass", "body_inertia", "body_pos", "body_quat", "body_ipos", "body_iquat",
                  "jnt_type", "jnt_range", "jnt_pos", "jnt_axis", "jnt_limited", "jnt_solref",
                  "jnt_solimp", "dof_armature", "dof_damping", "actuator_gear",
                  "actuator_ctrlrange", "site_pos", "sensor_type", "sensor_objid")
OPTION_FIELDS = ("timestep", "density", "viscosity", "integrator", "iterations",
                 "ls_iterations", "tolerance", "cone", "solver")


def _dm_swimmer():
    return pytest.importorskip("dm_control.suite.swimmer")


def _dm_control_env(n_links, seed):
    """dm_control swimmer physics + the paper's swim task (obs: joints, body velocities)."""
    import collections

    from dm_control.mujoco.wrapper.mjbindings import sizes
    from dm_control.rl import control
    from dm_control.utils import rewards
    swimmer = _dm_swimmer()
    probe = mujoco.MjModel.from_xml_string("<mujoco/>")
    for struct, obj in (("mjmodel", probe), ("mjdata", mujoco.MjData(probe))):
        for name in [f for f in sizes.array_sizes[struct] if not hasattr(obj, f)]:
            del sizes.array_sizes[struct][name]

    class Swim(swimmer.Swimmer):
        def get_observation(self, physics):
            return collections.OrderedDict(joints=physics.joints(),
                                           body_velocities=physics.body_velocities())

        def get_reward(self, physics):
            v = -physics.named.data.sensordata["head_vel"][1]
            return rewards.tolerance(v, bounds=(0.1, float("inf")), margin=0.1,
                                     value_at_margin=0.0, sigmoid="linear")

    xml, assets = swimmer.get_model_and_assets(n_links)
    physics = swimmer.Physics.from_xml_string(xml, assets=assets)
    return control.Environment(physics, Swim(random=seed), time_limit=30.0,
                               control_timestep=0.03)


@pytest.mark.parametrize("n_links", [3, 6, 7])
def test_model_equals_dm_control(n_links):
    swimmer = _dm_swimmer()
    xml, assets = swimmer.get_model_and_assets(n_links)
    ref = mujoco.MjModel.from_xml_string(xml, assets)
    ours = swimmer_model(n_links)
    for f in PHYSICS_FIELDS[:-2]:
        a, b = getattr(ref, f), getattr(ours, f)
        assert a.shape == b.shape and np.array_equal(a, b), f
    for f in OPTION_FIELDS:
        assert getattr(ref.opt, f) == getattr(ours.opt, f), f
    # the body-velocity sensors (dm_control's sensordata[12:]) in the same order
    np.testing.assert_array_equal(ref.sensor_type[4:], ours.sensor_type)
    np.testing.assert_array_equal(ref.sensor_objid[4:], ours.sensor_objid)
    # the numbers the spec quotes: total mass 0.01 kg per link, 50x anisotropic drag box
    assert ours.body_mass.sum() == pytest.approx(0.01 * n_links, rel=1e-12)
    np.testing.assert_allclose(ours.jnt_range[3:], 2 * np.pi / n_links * np.array([-1, 1.0])
                               * np.ones((n_links - 1, 2)), rtol=1e-15)


def test_c_backend_matches_dm_control_trajectory():
    """Same seed -> same initial state; 40 control steps of fixed random actions:
    observation layout (joints, body velocities), rewards and the time feature."""
    n_links, seed, T = 6, 3, 40
    env_dm = _dm_control_env(n_links, seed)
    ts = env_dm.reset()
    env = SwimmerC(n_links)
    datas, obs = env.reset([seed])
    sl = env.obs_slices()
    np.testing.assert_allclose(obs[0, sl["joints"]], ts.observation["joints"], atol=TOL_SAME_ENGINE)
    np.testing.assert_allclose(obs[0, sl["body_velocities"]], ts.observation["body_velocities"],
                               atol=TOL_SAME_ENGINE)
    np.testing.assert_allclose(datas[0].qpos, env_dm.physics.data.qpos, rtol=0, atol=1e-15)
    actions = np.random.default_rng(0).uniform(-1, 1, (T, n_links - 1))
    rewards = []
    for k in range(T):
        ts = env_dm.step(actions[k])
        obs, r = env.step(datas, actions[k][None], k)
        rewards.append((ts.reward, r[0]))
        np.testing.assert_allclose(obs[0, sl["joints"]], ts.observation["joints"],
                                   atol=TOL_SAME_ENGINE)
        np.testing.assert_allclose(obs[0, sl["body_velocities"]],
                                   ts.observation["body_velocities"], atol=TOL_SAME_ENGINE)
        assert obs[0, -1] == pytest.approx(-1 + 2 * (k + 1) / 1000, abs=1e-15)
    rewards = np.array(rewards)
    np.testing.assert_allclose(rewards[:, 1], rewards[:, 0], atol=TOL_SAME_ENGINE)
    assert rewards[:, 0].max() > 0.05       # the trajectory actually moves forward sometimes


def test_reset_matches_dm_control_randomizer():
    for n_links in (4, 9):
        for seed in (0, 11):
            env_dm = _dm_control_env(n_links, seed)
            env_dm.reset()
            np.testing.assert_allclose(reset_qpos(n_links, seed), env_dm.physics.data.qpos,
                                       rtol=0, atol=1e-15)


def test_reward_closed_form_equals_head_velocimeter():
    """v = sin(theta) vx - cos(theta) vy equals minus the head velocimeter's y (head frame),
    and reward = clip(v / 0.1, 0, 1)."""
    env = SwimmerC(5)
    datas, _ = env.reset([2])
    acts = np.random.default_rng(1).uniform(-1, 1, (30, 4))
    for k, a in enumerate(acts):
        _, r = env.step(datas, a[None], k)
        d = datas[0]
        v = forward_speed(d.qpos, d.qvel)
        assert v == pytest.approx(-d.sensordata[1], abs=1e-14)
        assert r[0] == pytest.approx(min(max(v / 0.1, 0.0), 1.0), abs=1e-15)


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_links"):
        swimmer_model(2)
    with pytest.raises(ValueError, match="control_timestep"):
        SwimmerC(6, timestep=0.007)
    with pytest.raises(ValueError, match="n_joints"):
        NCAP(n_joints=1)


@dataclasses.dataclass(frozen=True)
class _ObservingNCAP:
    """NCAP that asks the body for the full observation (so MJX refreshes the sensors)."""
    ctrl: NCAP
    needs_velocities = True

    def act(self, params, obs, k):
        return self.ctrl.act(params, obs, k)


def test_mjx_matches_c_closed_loop():
    """One jitted scan (NCAP + MJX body), vmapped over two bodies with two parameter sets, in
    float64: observations, actions and rewards equal the C backend's to 1e-6."""
    pytest.importorskip("mujoco.mjx")
    import jax
    import jax.numpy as jnp

    from neurojax.embodied import Swimmer, rollout, rollout_c
    n_links, T, seeds = 4, 15, [0, 5]
    ctrl = NCAP(n_links - 1)
    p0 = ctrl.init_params()
    p1 = ctrl.init_params(jax.random.PRNGKey(3), "random")
    pop = jax.tree.map(lambda a, b: jnp.stack([a, b]), p0, p1)
    env = Swimmer(n_links)
    qpos = jnp.asarray(np.stack([env.reset_qpos(s) for s in seeds]))
    run = jax.jit(jax.vmap(lambda p, q: rollout(env, _ObservingNCAP(ctrl), p, q, T, record=True)))
    out = run(pop, qpos)
    ref = rollout_c(SwimmerC(n_links), ctrl, pop, seeds=seeds, n_steps=T, batched_params=True,
                    record=True)
    np.testing.assert_allclose(np.asarray(out["obs"]).transpose(1, 0, 2), ref["obs"][:-1],
                               atol=TOL_MJX_F64)
    np.testing.assert_allclose(np.asarray(out["actions"]).transpose(1, 0, 2), ref["actions"],
                               atol=TOL_MJX_F64)
    np.testing.assert_allclose(np.asarray(out["rewards"]).T, ref["rewards"], atol=TOL_MJX_F64)
    np.testing.assert_allclose(np.asarray(out["return"]), ref["returns"], atol=TOL_MJX_F64)
    # the bodies do move (15 steps from rest are too few for forward speed > 0)
    assert math.isfinite(float(out["return"].sum()))
    assert np.abs(ref["obs"][-1][:, n_links - 1:-1]).max() > 0.05
