"""Multi-device scale-out on 4 host CPU devices: sharded runs equal single-device runs.

The device count must be fixed before JAX starts, so each check runs in a subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` and prints its measurements as JSON.
"""
import json
import os
import pathlib
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[1]

_SCRIPT = textwrap.dedent('''
    import json, sys, dataclasses
    sys.path.insert(0, {experiments!r})
    import jax, jax.numpy as jnp, numpy as np
    jax.config.update("jax_enable_x64", True)
    import neurojax as nj
    from neurojax import distributed as dist
    import coba

    out = {{"devices": jax.device_count()}}
    # 1. COBA split over 4 devices (neurons), event-driven kernel, 1000 steps
    cfg = dataclasses.replace(coba.Config(), n=400)
    net, params, state = coba.build(cfg)
    final, rec = nj.simulate(net, params, state, n_steps=1000)
    sharded = dist.shard_network(net, params, state, 4)
    mesh = jax.make_mesh((4,), ("neurons",))
    final_s, rec_s = dist.simulate_sharded(sharded, mesh=mesh, n_steps=1000)
    a, b = np.asarray(rec["P"]), np.asarray(rec_s["P"])
    out["coba_spikes"] = int(a.sum())
    out["coba_mismatches"] = int((a != b).sum())
    v = np.asarray(dist.unshard_state(sharded, final_s)["P"].v)
    out["coba_max_dv"] = float(np.abs(v - np.asarray(final.pops["P"].v)).max())

    # 2. external inputs in global order are split correctly (feed-forward Poisson drive)
    key = jax.random.PRNGKey(1)
    ff = nj.Network({{"in": nj.Population(nj.SpikeSource(), 40), "E": nj.Population(nj.LIF(), 20)}},
                    {{"in->E": nj.Projection(nj.fixed_prob(key, 40, 20, 0.3), "in", "E",
                                             receptor="g_exc", max_events=8)}}, dt=0.1)
    fp = nj.init_params(ff, {{"in->E": jnp.asarray(np.random.default_rng(0).uniform(
        5, 15, ff.projections["in->E"].conn.post_idx.shape))}})
    fs = nj.init_state(ff, fp)
    x = nj.inputs.poisson(jax.random.PRNGKey(2), rate_hz=300.0, n_steps=500, n=40, dt=0.1)
    _, r1 = nj.simulate(ff, fp, fs, {{"in": x}})
    sh = dist.shard_network(ff, fp, fs, 4)
    _, r2 = dist.simulate_sharded(sh, {{"in": x}}, mesh=mesh)
    out["ff_spikes"] = int(np.asarray(r1["E"]).sum())
    out["ff_mismatches"] = int((np.asarray(r1["E"]) != np.asarray(r2["E"])).sum())

    # 3. independent trials sharded over the devices = a loop of single runs
    xs = jnp.stack([nj.inputs.poisson(k, rate_hz=300.0, n_steps=300, n=40, dt=0.1)
                    for k in jax.random.split(jax.random.PRNGKey(3), 8)])
    states = jax.tree.map(lambda s: jnp.broadcast_to(s, (8,) + s.shape), fs)
    tmesh = jax.make_mesh((4,), ("trials",))
    _, rt = dist.simulate_trials(ff, fp, states, {{"in": xs}}, mesh=tmesh)
    loop = np.stack([np.asarray(nj.simulate(ff, fp, fs, {{"in": xs[i]}})[1]["E"]) for i in range(8)])
    out["trials_spikes"] = int(loop.sum())
    out["trials_mismatches"] = int((np.asarray(rt["E"]) != loop).sum())
    out["trials_sharding_devices"] = len(rt["E"].sharding.device_set)

    # 4. a dense (all_to_all) input layer stays a matrix product on every shard
    dense = nj.Network({{"in": nj.Population(nj.SpikeSource(), 40), "E": nj.Population(nj.LIF(), 20)}},
                       {{"in->E": nj.Projection(nj.all_to_all(40, 20), "in", "E", receptor="g_exc")}},
                       dt=0.1)
    dp = nj.init_params(dense, {{"in->E": jnp.asarray(np.random.default_rng(1).uniform(0, 4, (40, 20)))}})
    ds = nj.init_state(dense, dp)
    _, d1 = nj.simulate(dense, dp, ds, {{"in": x}})
    dsh = dist.shard_network(dense, dp, ds, 4)
    _, d2 = dist.simulate_sharded(dsh, {{"in": x}}, mesh=mesh)
    out["dense_local_all_to_all"] = bool(dsh.net.projections["in->E"].conn.all_to_all)
    out["dense_spikes"] = int(np.asarray(d1["E"]).sum())
    out["dense_mismatches"] = int((np.asarray(d1["E"]) != np.asarray(d2["E"])).sum())
    print(json.dumps(out))
''')


def test_sharded_runs_equal_single_device_runs():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    script = _SCRIPT.format(experiments=str(ROOT / "experiments"))
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["devices"] == 4
    assert res["coba_spikes"] > 100 and res["coba_mismatches"] == 0 and res["coba_max_dv"] == 0.0
    assert res["ff_spikes"] > 20 and res["ff_mismatches"] == 0
    assert res["trials_spikes"] > 20 and res["trials_mismatches"] == 0
    assert res["trials_sharding_devices"] == 4
    assert res["dense_local_all_to_all"] and res["dense_spikes"] > 20
    assert res["dense_mismatches"] == 0
