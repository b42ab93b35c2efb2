"""Named tolerance categories (after brainpy.state's NEST-parity harness).

EXACT          analytic propagator vs closed form, float64
INTEGRATOR     numerical integrator vs reference trace (mV)
KERNEL_F32     kernel vs reference in float32 (relative)
KERNEL_F64     kernel vs reference in float64 (relative)
RATE           firing-rate agreement (relative)
DISTRIBUTIONAL seed-averaged statistic vs another simulator (relative)
SPIKE_COUNT    spike-train agreement under deterministic drive: |dN| and |d step|
"""
EXACT = dict(rtol=1e-10, atol=1e-10)
INTEGRATOR = dict(rtol=0.0, atol=1e-3)
KERNEL_F32 = dict(rtol=1e-5, atol=1e-6)
KERNEL_F64 = dict(rtol=1e-10, atol=1e-12)
RATE = 0.05
DISTRIBUTIONAL = 0.05
SPIKE_COUNT = dict(count=2, step=1)
