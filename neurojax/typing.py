"""Protocols describing the model interfaces (documentation aids, not base classes)."""
from typing import Any, ClassVar, Mapping, NamedTuple, Protocol

import jax

Array = jax.Array
Drive = Mapping[str, Array]   # receptor name -> (n,) input for one step (units per receptor)


class NeuronModel(Protocol):
    """A population model: frozen, hashable descriptor with pure ``init``/``step``.

    Class attributes:
        Params, State: the ``NamedTuple`` types of its parameters and state.
        receptors: the input channels ``step`` reads from ``drive`` (e.g. ``"i"`` in pA,
            ``"g_exc"`` in nS). Projections may only target these.
        input_receptor: the receptor that ``simulate``'s external ``inputs[pop]`` feed.
        signals: state fields a projection may read as its ``source`` (e.g. ``"spike"``).
    """

    Params: ClassVar[type]
    State: ClassVar[type]
    receptors: ClassVar[tuple[str, ...]]
    input_receptor: ClassVar[str]
    signals: ClassVar[tuple[str, ...]]

    def init(self, params: NamedTuple, n: int) -> NamedTuple: ...

    def step(self, params: NamedTuple, state: NamedTuple, drive: Drive, dt: float) -> NamedTuple: ...


class SynapseModel(Protocol):
    """Post-synaptically aligned synapse: state of size ``n_post``, linear in its input."""

    Params: ClassVar[type]

    def init(self, params: NamedTuple, n: int) -> Any: ...

    def step(self, params: NamedTuple, state: Any, x: Array, dt: float) -> Any: ...

    def output(self, params: NamedTuple, state: Any) -> Array: ...
