"""The growth fits `make bench` prints for the PPC rollout's overhead (devtools/bench.py)."""

import pytest

from devtools.bench import fit_overhead, linear_fit

SIZES = (100, 400, 2000)


@pytest.mark.parametrize(("a", "b", "k"), [(3.0, 0.005, 1.0), (1.3, 89e-6, 2.0), (2.0, 0.2, 0.5)])
def test_fit_overhead_recovers_constant_factor_and_exponent(a, b, k):
    points = [(n, a + b * n**k) for n in SIZES]
    got = fit_overhead(points)
    assert got == pytest.approx((a, b, k), rel=1e-6)


def test_a_flat_curve_is_clamped_not_an_error():
    _, _, k = fit_overhead([(100, 5.0), (400, 6.0), (2000, 5.5)])
    assert k == pytest.approx(0.05)


def test_linear_fit_is_least_squares():
    assert linear_fit([(n, 2.0 + 0.004 * n) for n in SIZES]) == pytest.approx((2.0, 0.004))
