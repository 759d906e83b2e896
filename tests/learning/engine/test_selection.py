"""Diversity pickers: unique rows, spread over clusters, no near-duplicates of labeled frames."""

import numpy as np
import pytest

from learning.engine.selection import (
    coverage_distance,
    hybrid_pick,
    k_center_greedy,
    kmeans_pick,
    l2_normalize,
    top_k,
)


def clusters(n_clusters=5, per=40, dim=16, seed=0, spread=0.02):
    """(n_clusters * per, dim) unit vectors around n_clusters random centres, and labels."""
    rng = np.random.default_rng(seed)
    centres = l2_normalize(rng.normal(size=(n_clusters, dim)))
    points = np.concatenate([c + rng.normal(0, spread, (per, dim)) for c in centres])
    return l2_normalize(points), np.repeat(np.arange(n_clusters), per)


@pytest.mark.parametrize("picker", ["kcenter", "kmeans", "hybrid", "hybrid-kcenter"])
def test_pickers_spread_over_clusters_without_duplicates(picker):
    x, label = clusters()
    x = np.concatenate([x, x[:20]])  # exact duplicates too
    label = np.concatenate([label, label[:20]])
    scores = np.random.default_rng(1).uniform(size=len(x))
    if picker == "kcenter":
        rows = k_center_greedy(x, 5)
    elif picker == "kmeans":
        rows = kmeans_pick(x, 5)
    elif picker == "hybrid":
        rows = hybrid_pick(x, scores, 5, method="cluster")
    else:
        rows = hybrid_pick(x, scores, 5, shortlist_factor=100)  # k-center: the default
    assert len(rows) == len(set(rows)) == 5
    assert sorted(label[rows].tolist()) == [0, 1, 2, 3, 4]


def test_k_center_never_returns_near_duplicates_even_if_asked_for_more():
    x, _ = clusters(n_clusters=3, per=10, spread=0.0)  # 3 distinct points, each 10 times
    rows = k_center_greedy(x, 8, radius=0.05)
    assert len(rows) == 3 and len(set(rows)) == 3


def test_frames_near_labeled_ones_are_excluded():
    x, label = clusters(n_clusters=4, spread=0.002)  # each cluster: near-identical frames
    labeled = x[label == 0][:3]
    for rows in (k_center_greedy(x, 4, labeled=labeled), kmeans_pick(x, 3, labeled=labeled),
                 top_k(np.arange(len(x))[::-1].astype(float), 3, embeddings=x, labeled=labeled),
                 hybrid_pick(x, np.ones(len(x)), 3, labeled=labeled, shortlist_factor=100)):
        assert 0 not in label[rows].tolist()


def test_coverage_is_large_far_from_labeled_frames():
    x, label = clusters(n_clusters=2)
    cov = coverage_distance(x, x[label == 0][:5])
    assert cov[label == 1].min() > cov[label == 0].max()


@pytest.mark.parametrize("method", ["cluster", "kcenter"])
def test_hybrid_prefers_high_scores_within_diversity(method):
    # the informative frames form one cluster; either method must go there first
    x, label = clusters(n_clusters=4)
    scores = (label == 2).astype(float) * 0.9 + 0.05
    rows = hybrid_pick(x, scores, 1, method=method)
    assert label[rows[0]] == 2


def test_cluster_hybrid_takes_the_most_informative_frame_of_each_cluster():
    x, label = clusters(n_clusters=3, per=20)
    scores = np.random.default_rng(3).uniform(size=len(x))
    rows = hybrid_pick(x, scores, 3, method="cluster")
    for row in rows:
        assert scores[row] == scores[label == label[row]].max()
