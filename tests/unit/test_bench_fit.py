"""The figures `make bench` prints (devtools/bench.py): the PPC rollout's growth fits, and the
Deployments API requests counted apart."""

import pytest

from devtools import bench
from devtools.bench import fit_overhead, linear_fit, local_exponent

SIZES = (4, 100, 400, 2000)


@pytest.mark.parametrize(("a", "b", "k"), [(3.0, 0.005, 1.0), (1.3, 89e-6, 2.0), (2.0, 0.2, 0.5)])
def test_fit_overhead_recovers_constant_factor_and_exponent(a, b, k):
    points = [(n, a + b * n**k) for n in SIZES]
    got_a, got_b, got_k = fit_overhead(points)
    assert got_k == pytest.approx(k)
    assert (got_a, got_b) == pytest.approx((a, b), rel=1e-3)


def test_a_flat_curve_has_no_growth():
    _, b, _ = fit_overhead([(4, 5.0), (100, 5.2), (400, 4.9), (2000, 5.1)])
    assert b * 2000 < 0.5


def test_local_exponent_above_the_constant():
    assert local_exponent(2.0, (400, 2.0 + 0.4), (2000, 2.0 + 2.0)) == "1.00"
    assert local_exponent(2.0, (400, 2.0 + 0.16), (2000, 2.0 + 4.0)) == "2.00"
    assert local_exponent(5.0, (400, 5.01), (2000, 8.0)).startswith("n/a")


def test_linear_fit_is_least_squares():
    assert linear_fit([(n, 2.0 + 0.004 * n) for n in SIZES]) == pytest.approx((2.0, 0.004))


def test_deployment_requests_counts_the_deployments_routes_only():
    routes = {
        "GET /repos/{owner}/{repo}/deployments": {"reads": 2, "writes": 0},
        "POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses": {
            "reads": 0,
            "writes": 3,
        },
        "PUT /repos/{owner}/{repo}/pulls/{number}/merge": {"reads": 0, "writes": 1},
        "GET /repos/{owner}/{repo}": {"reads": 1, "writes": 0},
    }
    assert bench.deployment_requests(routes) == 5
    assert bench.deployment_requests({}) == 0
