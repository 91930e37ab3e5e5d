"""generate() and describe_tensor()."""

from __future__ import annotations

import pytest
import torch

from quantviz.inputs import GENERATOR_KINDS, InputError, describe_tensor, generate
from quantviz.inputs.generate import generator_params


@pytest.mark.parametrize("kind", [k for k in GENERATOR_KINDS if k != "notebook"])
def test_same_seed_same_tensor_other_seed_other_tensor(kind: str) -> None:
    a = generate(kind, (64, 32), seed=3)
    assert a.dtype == torch.float32
    assert a.shape == (64, 32)
    assert torch.equal(a, generate(kind, (64, 32), seed=3))
    torch.manual_seed(123)  # global RNG state must not matter
    assert torch.equal(a, generate(kind, [64, 32], seed=3))
    assert not torch.equal(a, generate(kind, (64, 32), seed=4))
    assert torch.isfinite(a).all()


def test_notebook_example() -> None:
    t = generate("notebook")
    expected = [[191.6, -13.5, 728.6], [92.14, 295.5, -184.0], [0.0, 684.6, 245.5]]
    assert torch.equal(t, torch.tensor(expected, dtype=torch.float32))
    assert torch.equal(generate("notebook", (3, 3)), t)
    with pytest.raises(InputError, match="3×3"):
        generate("notebook", (4, 4))


def test_distributions_have_their_shape() -> None:
    n = generate("normal", (200_000,), mean=2.0, std=3.0)
    assert abs(float(n.mean()) - 2.0) < 0.05
    assert abs(float(n.std()) - 3.0) < 0.05
    u = generate("uniform", (100_000,), low=-2.0, high=5.0)
    assert float(u.min()) >= -2.0
    assert float(u.max()) < 5.0
    lap = generate("laplace", (200_000,), scale=1.0)
    # Laplace(0, 1): variance 2, excess kurtosis 3 (heavy tails), unlike a normal's 0.
    assert abs(float(lap.var()) - 2.0) < 0.1
    kurt = float(((lap - lap.mean()) ** 4).mean() / lap.var() ** 2) - 3
    assert 2.0 < kurt < 4.5


def test_outlier_columns() -> None:
    x = generate("outliers", (256, 100), seed=1, fraction=0.05, factor=50.0)
    col_absmax = x.abs().amax(dim=0)
    big = col_absmax > 20
    assert int(big.sum()) == 5  # exactly the chosen fraction of columns
    assert float(col_absmax[~big].max()) < 6  # the rest stays normal
    assert describe_tensor(x)["outliers"] > 0


def test_outlier_elements_and_small_shapes() -> None:
    x = generate("outliers", (100, 100), seed=2, pattern="elements", fraction=0.001, factor=100.0)
    base = generate("normal", (100, 100), seed=2)  # the same draws before scaling
    changed = x != base
    assert int(changed.sum()) == 10
    assert torch.allclose(x[changed] / base[changed], torch.full((10,), 100.0))
    assert int((generate("outliers", (4,), fraction=0.01).abs() > 0).sum()) == 4
    # at least one outlier column even when the fraction rounds to zero
    y = generate("outliers", (1000, 8), fraction=0.01, factor=1000.0)
    assert int((y.abs().amax(dim=0) > 100).sum()) == 1


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("gaussian", (3, 3)), {}, "Unknown kind"),
        (("normal", None), {}, "needs a shape"),
        (("normal", (3, 0)), {}, "whole number"),
        (("normal", (2, 2, 2, 2, 2)), {}, "1 to 4"),
        (("normal", ()), {}, "1 to 4"),
        (("normal", (3, 3)), {"sigma": 2}, "no parameter sigma.*mean, std"),
        (("normal", (3, 3)), {"std": -1.0}, "positive"),
        (("normal", (3, 3)), {"std": float("nan")}, "finite"),
        (("uniform", (3, 3)), {"low": 1.0, "high": 1.0}, "low < high"),
        (("outliers", (3, 3)), {"fraction": 1.5}, "between 0 and 1"),
        (("outliers", (3, 3)), {"pattern": "rows"}, "'columns' or 'elements'"),
        (("normal", (3, 3), -1), {}, "seed"),
        (("normal", (100_000, 100_000)), {}, "more than the limit"),
    ],
)
def test_bad_arguments(args: tuple, kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        generate(*args, **kwargs)


@pytest.mark.parametrize(
    "seed",
    [-1, 2**63, 2**70, True, 1.5, "3"],
    ids=["negative", "2^63", "2^70", "bool", "float", "str"],
)
def test_seed_out_of_range_says_the_range(seed: object) -> None:
    # 2**70 used to reach torch.Generator.manual_seed: "Overflow when unpacking long long".
    with pytest.raises(InputError, match=r"seed must be a whole number between 0 and 2\*\*63-1"):
        generate("normal", (2, 2), seed=seed)


def test_largest_seed_works_and_is_deterministic() -> None:
    a = generate("normal", (4, 4), seed=2**63 - 1)
    assert torch.equal(a, generate("normal", (4, 4), seed=2**63 - 1))
    assert torch.isfinite(a).all()


def test_generator_params_lists_defaults() -> None:
    assert generator_params("outliers")["pattern"] == "columns"
    assert set(GENERATOR_KINDS) == {"normal", "uniform", "laplace", "outliers", "notebook"}


def test_describe_tensor() -> None:
    x = torch.zeros(1000)
    x[7] = 100.0
    d = describe_tensor(x)
    assert d["shape"] == (1000,)
    assert d["numel"] == 1000
    assert (d["min"], d["max"], d["absmax"]) == (0.0, 100.0, 100.0)
    assert d["mean"] == pytest.approx(0.1)
    assert d["outliers"] == 1
    assert d["outlier_fraction"] == pytest.approx(0.001)
    assert describe_tensor(torch.ones(3, 3))["outliers"] == 0  # std 0: no outliers
    assert describe_tensor(generate("normal", (100, 100)))["outliers"] == 0
