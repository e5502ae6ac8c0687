"""Zero-shot statistics that tell transfer from chance (pure functions, numpy/scipy only).

Why: heads trained on seen classes only are the same function whatever the unseen classes are
called, so a zero-shot score means something only against the other ways the unseen gallery
classes could have been named. Three tools:

* `permutation_scores`: top-1 retrieval of one trained model under every assignment pi of the
  unseen gallery classes to the unseen query classes (2 for a pair, 24 for four). pi is applied
  consistently: a query of class c is right if it retrieves gallery class pi(c); a gallery item
  used as a query (the other direction) of class d is right if it retrieves query class
  pi^-1(d). The identity is the true assignment.
* `permutation_p`: the true assignment's rank among them -> p = #{pi: score(pi) >= score(id)} /
  n_perms (ties count against the true assignment, so p is conservative; p >= 1 / n_perms).
* combining groups: `rank_sum_p` (headline: the exact distribution of the summed ranks under the
  null that each group's rank is uniform on 1..n_perms, groups independent) and `fisher_p`
  (Fisher's method; approximate for discrete p-values, conservative-ish);
  `group_test` (held-out groups as the unit, seeds averaged within a group): one-sided
  one-sample t-test of the group means against chance (headline), with the one-sided Wilcoxon
  signed-rank test beside it.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats


def assignments(classes) -> list[dict[int, int]]:
    """Every bijection of ``classes`` onto itself as {query class: gallery class}; the identity
    first."""
    cl = [int(c) for c in classes]
    return [dict(zip(cl, perm)) for perm in itertools.permutations(cl)]


def permutation_scores(sim: np.ndarray, q_labels, g_labels, classes=None,
                       directions: str = "both") -> tuple[np.ndarray, list[dict[int, int]]]:
    """Top-1 accuracy under every assignment of the unseen classes.

    sim [Q, G]: similarity of the queries (e.g. neural) to the gallery (e.g. images), larger is
    closer; q_labels [Q], g_labels [G]. ``directions``: ``q2g`` (queries retrieve gallery),
    ``g2q`` (gallery items retrieve queries, through sim.T) or ``both`` (their mean).
    Returns (scores [n_perms], assignments); scores[0] is the true assignment (identity).
    """
    sim = np.asarray(sim, dtype=np.float64)
    ql, gl = np.asarray(q_labels).astype(int), np.asarray(g_labels).astype(int)
    if sim.shape != (ql.size, gl.size):
        raise ValueError(f"sim has shape {sim.shape}, labels give ({ql.size}, {gl.size})")
    if directions not in ("q2g", "g2q", "both"):
        raise ValueError(f"directions must be q2g, g2q or both, got {directions!r}")
    classes = sorted(set(ql.tolist())) if classes is None else [int(c) for c in classes]
    perms = assignments(classes)
    q_pred = gl[np.argmax(sim, axis=1)]  # gallery class retrieved by each query
    g_pred = ql[np.argmax(sim, axis=0)]  # query class retrieved by each gallery item
    out = np.empty(len(perms))
    for k, pi in enumerate(perms):
        a = np.mean([pi[c] == p for c, p in zip(ql.tolist(), q_pred.tolist())])
        # pi^-1(d) == p  <=>  pi(p) == d
        b = np.mean([pi.get(p, -1) == d for d, p in zip(gl.tolist(), g_pred.tolist())])
        out[k] = {"q2g": a, "g2q": b, "both": 0.5 * (a + b)}[directions]
    return out, perms


def permutation_rank(scores: np.ndarray) -> int:
    """Rank of the true assignment (scores[0]): #{pi: score(pi) >= score(id)}, 1 = best."""
    s = np.asarray(scores, dtype=np.float64)
    return int(np.sum(s >= s[0] - 1e-12))


def permutation_p(scores: np.ndarray) -> float:
    """One-sided permutation p-value of the true assignment: rank / n_perms."""
    return permutation_rank(scores) / len(scores)


def rank_sum_p(ranks, n_perms: int) -> float:
    """Exact P(R_1 + ... + R_k <= observed sum) for independent R_i uniform on 1..n_perms.

    The distribution of the sum is the k-fold convolution of the uniform one."""
    ranks = [int(r) for r in ranks]
    if not ranks:
        return float("nan")
    if any(r < 1 or r > n_perms for r in ranks):
        raise ValueError(f"ranks must lie in 1..{n_perms}, got {ranks}")
    one = np.full(n_perms, 1.0 / n_perms)  # index j <-> rank j + 1
    dist = one
    for _ in ranks[1:]:
        dist = np.convolve(dist, one)
    # index of sum s in dist: s - k
    return float(min(1.0, dist[: sum(ranks) - len(ranks) + 1].sum()))


def fisher_p(pvalues) -> float:
    """Fisher's method: X = -2 sum ln p_i ~ chi^2 with 2k degrees of freedom under the null."""
    p = np.asarray(pvalues, dtype=np.float64)
    if p.size == 0:
        return float("nan")
    x = -2.0 * np.log(np.clip(p, 1e-300, 1.0)).sum()
    return float(stats.chi2.sf(x, 2 * p.size))


@dataclass
class GroupTest:
    """Above-chance test with held-out groups as the unit (one value per group)."""

    n_groups: int
    mean: float
    chance: float
    t_p: float  # one-sided one-sample t-test, H1: mean > chance (headline)
    wilcoxon_p: float  # one-sided Wilcoxon signed-rank, H1: median > chance
    test: str = "one-sided one-sample t-test over held-out groups (seeds averaged within a group)"

    def to_dict(self) -> dict:
        return asdict(self)


def group_test(group_means, chance: float) -> GroupTest:
    """Test the per-group means (each averaged over seeds) against ``chance``."""
    x = np.asarray(group_means, dtype=np.float64)
    n = int(x.size)
    t_p = w_p = float("nan")
    if n >= 2 and np.std(x) > 0:
        t_p = float(stats.ttest_1samp(x, chance, alternative="greater").pvalue)
    elif n >= 2:
        t_p = 0.0 if x[0] > chance else 1.0
    d = x - chance
    if n >= 1 and np.any(d != 0):
        w_p = float(stats.wilcoxon(d[d != 0], alternative="greater").pvalue) if np.sum(d != 0) > 0 \
            else float("nan")
    return GroupTest(n_groups=n, mean=float(x.mean()) if n else float("nan"), chance=float(chance),
                     t_p=t_p, wilcoxon_p=w_p)


@dataclass
class PermutationSummary:
    """Permutation control of a zero-shot experiment (one entry per held-out group)."""

    n_perms: int
    per_group_p: dict[str, float]  # seeds' permutation scores averaged, then the rank -> p
    per_group_rank: dict[str, int]
    per_group_null_mean: dict[str, float]  # mean score over the wrong assignments
    combined_p: float  # exact rank-sum test over groups (headline)
    fisher_p: float
    per_run_p: dict[str, list[float]]  # group -> one p per seed
    method: str = ("per group: seeds' scores averaged per assignment, p = rank of the true one; "
                   "combined: exact distribution of the summed ranks")

    def to_dict(self) -> dict:
        return asdict(self)


def summarise_permutations(scores_by_group: dict[str, list[np.ndarray]]) -> PermutationSummary:
    """``scores_by_group``: group name -> one `permutation_scores` array per seed."""
    per_p, per_rank, null_mean, per_run = {}, {}, {}, {}
    n_perms = 0
    for g, runs in scores_by_group.items():
        arr = np.asarray(runs, dtype=np.float64)
        n_perms = arr.shape[1]
        mean = arr.mean(0)
        per_rank[g] = permutation_rank(mean)
        per_p[g] = per_rank[g] / n_perms
        null_mean[g] = float(mean[1:].mean()) if n_perms > 1 else float("nan")
        per_run[g] = [permutation_p(r) for r in arr]
    return PermutationSummary(
        n_perms=n_perms, per_group_p=per_p, per_group_rank=per_rank, per_group_null_mean=null_mean,
        combined_p=rank_sum_p(list(per_rank.values()), n_perms) if per_rank else float("nan"),
        fisher_p=fisher_p(list(per_p.values())), per_run_p=per_run)
