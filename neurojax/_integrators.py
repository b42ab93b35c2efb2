"""Fixed-step integrators shared by the neuron and astrocyte models."""


def rk4(f, y, dt):
    """One classical Runge–Kutta (order 4) step of ``y' = f(y)`` for a tuple state ``y``."""
    def axpy(a, k):
        return tuple(yi + a * ki for yi, ki in zip(y, k))
    k1 = f(y)
    k2 = f(axpy(0.5 * dt, k1))
    k3 = f(axpy(0.5 * dt, k2))
    k4 = f(axpy(dt, k3))
    return tuple(yi + (dt / 6.0) * (a + 2.0 * b + 2.0 * c + d)
                 for yi, a, b, c, d in zip(y, k1, k2, k3, k4))
