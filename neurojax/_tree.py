"""Pytree dataclass helpers: frozen dataclasses whose fields are leaves unless marked static."""
import dataclasses

import jax


def static(**kwargs):
    """A dataclass field that is static (hashable jit metadata), not a pytree leaf."""
    metadata = dict(kwargs.pop("metadata", {}), static=True)
    return dataclasses.field(metadata=metadata, **kwargs)


def pytree_dataclass(cls):
    """Make ``cls`` a frozen dataclass registered as a pytree.

    Fields created with :func:`static` become ``meta_fields`` (part of the treedef, compared by
    value, so equal networks hit the jit cache); all other fields are children.
    """
    cls = dataclasses.dataclass(frozen=True)(cls)
    fields = dataclasses.fields(cls)
    meta = [f.name for f in fields if f.metadata.get("static", False)]
    data = [f.name for f in fields if not f.metadata.get("static", False)]
    return jax.tree_util.register_dataclass(cls, data_fields=data, meta_fields=meta)
