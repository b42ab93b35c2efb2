"""Run every docstring example in the package and every code block in docs/*.md."""
import doctest
import importlib
import pathlib
import pkgutil

import pytest

import neurojax
import neurojax.kernels

ROOT = pathlib.Path(__file__).resolve().parents[1]
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def _modules():
    for pkg in (neurojax, neurojax.kernels):
        yield pkg.__name__
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            yield info.name


@pytest.mark.parametrize("name", sorted(set(_modules())))
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=FLAGS, verbose=False)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"


@pytest.mark.parametrize("path", sorted((ROOT / "docs").glob("*.md")), ids=lambda p: p.name)
def test_docs_examples(path):
    result = doctest.testfile(str(path), module_relative=False, optionflags=FLAGS, verbose=False)
    assert result.failed == 0, f"{result.failed} example(s) failed in {path.name}"


def _readme():
    return (ROOT / "README.md").read_text()


def test_readme_quick_start_runs_and_gives_finite_gradients():
    block = _readme().split("```python\n", 1)[1].split("```", 1)[0]
    namespace = {}
    exec(compile(block, "README.md quick start", "exec"), namespace)
    import jax
    import numpy as np
    leaves = jax.tree.leaves(namespace["grads"])
    assert leaves and all(np.isfinite(np.asarray(x)).all() for x in leaves)
    assert np.isfinite(float(namespace["value"]))


def test_ci_runs_exactly_the_readme_test_command():
    commands = [line.strip() for line in _readme().splitlines() if line.startswith("    python3 -m venv")]
    assert len(commands) == 2, commands                       # install+run, install+test
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert commands[1] in [line.strip() for line in ci_lines]
