"""Zero-shot statistics: permutation p-values against a brute-force count, combined p by hand."""

import itertools
import math

import numpy as np
import pytest

from rram_lsm.experiments.zs_stats import (
    fisher_p,
    group_test,
    permutation_p,
    permutation_scores,
    rank_sum_p,
    summarise_permutations,
)


def _brute(sim, ql, gl, classes):
    """Relabel the gallery by every bijection and count top-1 hits directly."""
    out = []
    for perm in itertools.permutations(classes):
        pi = dict(zip(classes, perm))
        inv = {v: k for k, v in pi.items()}
        a = np.mean([pi[ql[q]] == gl[np.argmax(sim[q])] for q in range(len(ql))])
        b = np.mean([inv[gl[g]] == ql[np.argmax(sim[:, g])] for g in range(len(gl))])
        out.append((a, b))
    return np.array(out)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_permutation_scores_match_brute_force(k):
    rng = np.random.default_rng(k)
    classes = [3, 7, 11, 20][:k]
    ql = np.repeat(classes, 3)
    gl = np.repeat(classes, 2)
    sim = rng.normal(size=(ql.size, gl.size))
    brute = _brute(sim, ql.tolist(), gl.tolist(), classes)
    for d, col in (("q2g", brute[:, 0]), ("g2q", brute[:, 1]), ("both", brute.mean(1))):
        s, perms = permutation_scores(sim, ql, gl, directions=d)
        assert len(s) == math.factorial(k)
        np.testing.assert_allclose(s, col)
        assert perms[0] == {c: c for c in classes}
        # p by brute-force count
        assert permutation_p(s) == pytest.approx(np.sum(col >= col[0]) / len(col))


def test_direction_inverse_is_used():
    """A 3-cycle assignment: q2g needs pi, g2q needs pi^-1 (they differ for a 3-cycle)."""
    classes = [0, 1, 2]
    ql = np.array(classes)
    gl = np.array(classes)
    # query c retrieves gallery (c + 1) % 3; gallery d retrieves query (d + 1) % 3
    sim = np.full((3, 3), -1.0)
    for c in classes:
        sim[c, (c + 1) % 3] = 1.0
    sim_t = np.full((3, 3), -1.0)
    for d in classes:
        sim_t[(d + 1) % 3, d] = 1.0
    s, perms = permutation_scores(sim, ql, gl, directions="q2g")
    best = perms[int(np.argmax(s))]
    assert best == {0: 1, 1: 2, 2: 0} and s.max() == 1.0
    # the same embedding seen from the gallery: gallery d = c + 1 retrieves query c = pi^-1(d)
    s2, _ = permutation_scores(sim, ql, gl, directions="g2q")
    assert s2[int(np.argmax(s))] == 1.0


def test_perfect_model_p_is_one_over_n():
    ql = np.repeat([0, 1, 2, 3], 5)
    sim = (ql[:, None] == ql[None, :]).astype(float)
    s, _ = permutation_scores(sim, ql, ql)
    assert s[0] == 1.0 and permutation_p(s) == pytest.approx(1 / 24)


def test_rank_sum_hand_computed():
    assert rank_sum_p([1, 1], 24) == pytest.approx(1 / 576)
    # two pairs (n = 2): sums 2 (1/4), 3 (2/4), 4 (1/4) -> P(S <= 3) = 3/4
    assert rank_sum_p([1, 2], 2) == pytest.approx(0.75)
    assert rank_sum_p([2, 2], 2) == pytest.approx(1.0)
    # three groups of 24, ranks 1, 1, 2: sums <= 4 -> (1 + 3) / 24^3
    assert rank_sum_p([1, 1, 2], 24) == pytest.approx(4 / 24 ** 3)


def test_fisher_hand_computed():
    x = -2 * 2 * math.log(1 / 24)
    expected = math.exp(-x / 2) * (1 + x / 2)  # chi^2 survival, 4 degrees of freedom
    assert fisher_p([1 / 24, 1 / 24]) == pytest.approx(expected)


def test_group_test_and_summary():
    t = group_test([0.5, 0.6, 0.4, 0.55, 0.45, 0.5], 0.25)
    assert t.t_p < 0.001 and t.wilcoxon_p == pytest.approx(1 / 64)
    t = group_test([0.2, 0.3, 0.25, 0.26, 0.24, 0.25], 0.25)
    assert t.t_p > 0.2
    s = np.zeros(24)
    s[0] = 1.0
    summ = summarise_permutations({"a": [s, s], "b": [s * 0.5, s]})
    assert summ.per_group_rank == {"a": 1, "b": 1}
    assert summ.combined_p == pytest.approx(1 / 576)
