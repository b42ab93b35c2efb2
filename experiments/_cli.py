"""Command-line plumbing shared by the experiment scripts (no shared state between them).

* :func:`parse` turns an experiment's frozen-dataclass ``Config`` into argparse options:
  every field ``some_name`` becomes ``--some-name``; bools get ``--flag/--no-flag``
  (``argparse.BooleanOptionalAction``); tuples take several values (``nargs``);
  ``Optional[X]`` fields accept ``none``. ``--smoke`` starts from ``Config().smoke()`` (tiny
  sizes for CI) and explicit options override it. The ``Config`` must have an ``out`` field,
  set by ``--out DIR``.
* :func:`save_results` writes ``results.json``: the config, the metrics, the git commit the run
  started from (or null), the jax version, the device platform and a UTC timestamp.
"""
import argparse
import dataclasses
import datetime
import functools
import json
import math
import os
import platform
import subprocess
import sys
import typing

__all__ = ["parse", "save_results"]

_NONE = ("none", "null")


def _field_parser(name: str, tp):
    """argparse kwargs for a field of type ``tp`` (int, float, str, bool, tuple, Optional)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    optional = origin is typing.Union and type(None) in args
    if optional:
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1:
            raise TypeError(f"Config.{name}: unsupported type {tp}")
        tp = rest[0]
        origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is bool:
        return dict(action=argparse.BooleanOptionalAction)
    if origin is tuple:
        elem = args[0] if args else str
        if len(args) == 2 and args[1] is Ellipsis:
            return dict(type=_scalar(name, elem, optional), nargs="*", metavar=elem.__name__.upper())
        if not args or any(a is not elem for a in args):
            raise TypeError(f"Config.{name}: tuples must be homogeneous, got {tp}")
        return dict(type=_scalar(name, elem, optional), nargs=len(args),
                    metavar=elem.__name__.upper())
    if tp in (int, float, str):
        return dict(type=_scalar(name, tp, optional), metavar=tp.__name__.upper())
    raise TypeError(f"Config.{name}: unsupported field type {tp} (use int, float, str, bool, "
                    "tuple[...] or Optional of these)")


def _scalar(name, tp, optional):
    def convert(text):
        if optional and text.lower() in _NONE:
            return None
        try:
            return tp(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"--{name.replace('_', '-')}: expected "
                                             f"{tp.__name__}, got {text!r}") from None
    convert.__name__ = tp.__name__
    return convert


def parse(config_cls, argv=None, description=None):
    """Build the CLI for ``config_cls`` and return the resulting ``Config`` instance.

    Args:
        config_cls: a frozen dataclass with defaults for every field, an ``out: str`` field
            and a ``smoke()`` method returning the reduced configuration.
        argv: argument list (default ``sys.argv[1:]``).
        description: help text (default: the module docstring of ``config_cls``).

    Returns:
        ``Config()`` (or ``Config().smoke()`` with ``--smoke``) updated with the options given.
    """
    if not dataclasses.is_dataclass(config_cls):
        raise TypeError(f"parse: {config_cls!r} is not a dataclass")
    _git_commit()                     # the commit the run starts from, for save_results
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    if "out" not in fields:
        raise TypeError(f"parse: {config_cls.__name__} needs an 'out: str' field (--out DIR)")
    hints = typing.get_type_hints(config_cls)
    base = config_cls()
    if description is None:
        description = getattr(sys.modules.get(config_cls.__module__), "__doc__", None)
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true",
                        help="tiny configuration for a quick check (Config.smoke())")
    for name, f in fields.items():
        kwargs = _field_parser(name, hints[name])
        default = getattr(base, name)
        helptext = f.metadata.get("help", "")
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, default=argparse.SUPPRESS,
                            help=f"{helptext} (default: {default!r})".strip(), **kwargs)
    ns = vars(parser.parse_args(argv))
    smoke = ns.pop("smoke")
    cfg = base.smoke() if smoke else base
    given = {k: (tuple(v) if isinstance(v, list) else v) for k, v in ns.items()}
    return dataclasses.replace(cfg, **given)


@functools.lru_cache(maxsize=None)
def _git_commit():
    """The repository's HEAD commit when first asked (:func:`parse` asks at the start of a
    run, so a long run records the code it started from even if HEAD moves meanwhile), or
    None outside a git checkout (read-only query)."""
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")
    try:
        out = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, env=env, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _jsonable(x):
    """Convert NumPy/JAX scalars and arrays to JSON types; non-finite floats become None."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (bool, str, type(None))):
        return x
    if isinstance(x, int):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if hasattr(x, "tolist"):          # numpy / jax arrays and scalars
        return _jsonable(x.tolist())
    raise TypeError(f"save_results: cannot store a {type(x).__name__} in JSON")


def save_results(cfg, metrics: dict, out_dir=None) -> str:
    """Write ``results.json`` into ``out_dir`` (default ``cfg.out``) and return its path.

    The file holds ``{"config", "metrics", "git_commit", "jax_version", "platform",
    "python", "timestamp"}``. NaN/inf metric values are stored as ``null``.
    """
    import jax

    out_dir = cfg.out if out_dir is None else out_dir
    os.makedirs(out_dir, exist_ok=True)
    record = {
        "config": _jsonable(dataclasses.asdict(cfg)),
        "metrics": _jsonable(dict(metrics)),
        "git_commit": _git_commit(),
        "jax_version": jax.__version__,
        "platform": jax.default_backend(),
        "python": platform.python_version(),
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    path = os.path.join(out_dir, "results.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(record, f, indent=2, allow_nan=False)
        f.write("\n")
    os.replace(tmp, path)
    return path
