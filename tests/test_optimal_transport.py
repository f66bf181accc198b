"""Log-domain Sinkhorn against a slow, plain-domain float64 reference; stability at high norms."""
import numpy as np
import pytest
import torch

from softtopic.models.optimal_transport import sinkhorn, squared_euclidean
from softtopic.models.regularizers import EmbeddingClusteringRegularizer


def reference_sinkhorn(cost, a, b, alpha, iters=20000):
    """Textbook Sinkhorn on the kernel exp(-alpha M), float64, fixed (large) iteration count."""
    K = np.exp(-alpha * np.asarray(cost, dtype=np.float64))
    u = np.ones(len(a)) / len(a)
    for _ in range(iters):
        v = b / (K.T @ u)
        u = a / (K @ v)
    return u[:, None] * K * v[None, :]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_plain_domain_reference(seed):
    rng = np.random.default_rng(seed)
    n, m = 4, 7
    cost = rng.random((n, m))
    a = rng.dirichlet(np.ones(n))
    b = rng.dirichlet(np.ones(m))
    expected = reference_sinkhorn(cost, a, b, alpha=5.0)
    plan = sinkhorn(torch.tensor(cost), torch.tensor(a), torch.tensor(b), alpha=5.0,
                        max_iter=5000, tol=1e-12).numpy()
    np.testing.assert_allclose(plan, expected, atol=1e-9)
    np.testing.assert_allclose(plan.sum(1), a, atol=1e-9)
    np.testing.assert_allclose(plan.sum(0), b, atol=1e-9)


def test_uniform_marginals_and_reference_stopping_rule():
    rng = np.random.default_rng(3)
    cost = torch.tensor(rng.random((5, 9)))
    plan = sinkhorn(cost, alpha=20.0)           # ECR's settings: tol 5e-3, checks every 50
    assert torch.allclose(plan.sum(1), torch.full((5,), 0.2, dtype=plan.dtype), atol=1e-6)
    assert abs(plan.sum(0) - 1 / 9).sum() < 5e-3


def test_finite_with_high_norm_embeddings():
    torch.manual_seed(0)
    topics = torch.nn.functional.normalize(torch.randn(5, 16), dim=1).mul(100).requires_grad_()
    words = torch.nn.functional.normalize(torch.randn(30, 16), dim=1).mul(100).requires_grad_()
    cost = squared_euclidean(topics, words)         # entries up to 4e4: exp(-20 * 4e4) == 0
    with torch.no_grad():
        assert torch.exp(-20.0 * cost).eq(0).any()  # the plain-domain kernel really underflows
    plan = sinkhorn(cost, alpha=20.0, max_iter=200)
    loss = (plan * cost).sum()
    loss.backward()
    assert torch.isfinite(plan).all() and torch.isfinite(loss)
    assert torch.isfinite(topics.grad).all() and torch.isfinite(words.grad).all()
    assert topics.grad.abs().sum() > 0
    # float32 log-kernel entries near 8e5 carry ~0.05 absolute error: marginals within 2%
    assert torch.allclose(plan.sum(1), torch.full((5,), 0.2), atol=4e-3)


def test_gradients_flow_through_unrolled_iterations():
    cost = torch.rand(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda c: (sinkhorn(c, alpha=3.0, max_iter=30) * c).sum(),
                                    (cost,))


def test_ecr_requires_a_decoder_with_a_cost():
    class Dummy:
        decoder = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="cost"):
        EmbeddingClusteringRegularizer().attach(Dummy())


def test_bad_arguments():
    with pytest.raises(ValueError, match="alpha"):
        sinkhorn(torch.rand(2, 2), alpha=0)
    with pytest.raises(ValueError, match="2-D"):
        sinkhorn(torch.rand(2))


def test_plain_domain_path_equals_log_domain(monkeypatch):
    """Small cost spreads take the float64 plain-domain iterations; they must give the log-domain
    plan and gradients (the constant kernel shift only rescales v)."""
    import softtopic.models.optimal_transport as ot
    torch.manual_seed(0)
    topics = torch.nn.functional.normalize(torch.randn(6, 16), dim=1)
    words = torch.nn.functional.normalize(torch.randn(40, 16), dim=1)
    results = []
    for span in (-1.0, ot.PLAIN_DOMAIN_SPAN):       # -1: every cost takes the log domain
        monkeypatch.setattr(ot, "PLAIN_DOMAIN_SPAN", span)
        t = topics.clone().requires_grad_()
        cost = squared_euclidean(t, words)
        plan = sinkhorn(cost, alpha=20.0)
        (plan * cost).sum().backward()
        results.append((plan.detach(), t.grad))
    (p_log, g_log), (p_plain, g_plain) = results
    assert p_plain.dtype == torch.float32
    torch.testing.assert_close(p_plain, p_log, atol=1e-7, rtol=1e-4)
    torch.testing.assert_close(g_plain, g_log, atol=1e-6, rtol=1e-3)
