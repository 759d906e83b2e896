"""Diversity pickers over frame embeddings (pooled backbone features). Pure NumPy/scikit-learn.

Embeddings are float (N, D), compared by Euclidean distance after L2 normalisation
(`l2_normalize`), so distances lie in [0, 2]. Every picker returns unique row numbers into
the candidate array, never more than asked, and leaves out candidates within `radius` of an
already-labeled frame or of a frame it already picked (near-duplicates), even if that means
returning fewer than asked.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning

DUPLICATE_FRACTION = 0.05  # near-duplicate radius = this x the median pairwise distance
EPS = 1e-12


def l2_normalize(embeddings: np.ndarray) -> np.ndarray:
    """(N, D) float32 rows scaled to unit length (zero rows stay zero)."""
    x = np.asarray(embeddings, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, EPS)


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) Euclidean distances (float32, via the Gram matrix)."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(sq, 0.0))


def min_distance_to(candidates: np.ndarray, reference: np.ndarray | None,
                    chunk: int = 4096) -> np.ndarray:
    """(N,) distance of each candidate to its nearest reference row (inf without reference)."""
    n = len(candidates)
    if reference is None or len(reference) == 0:
        return np.full(n, np.inf, dtype=np.float32)
    out = np.empty(n, dtype=np.float32)
    for start in range(0, n, chunk):
        out[start:start + chunk] = pairwise_distances(candidates[start:start + chunk],
                                                      reference).min(axis=1)
    return out


def default_radius(embeddings: np.ndarray, sample: int = 512, seed: int = 0) -> float:
    """Near-duplicate radius: DUPLICATE_FRACTION x the median pairwise distance of a sample."""
    x = np.asarray(embeddings, dtype=np.float32)
    if len(x) < 2:
        return 0.0
    rng = np.random.default_rng(seed)
    rows = x[rng.choice(len(x), size=min(sample, len(x)), replace=False)]
    d = pairwise_distances(rows, rows)
    upper = d[np.triu_indices(len(rows), k=1)]
    return float(DUPLICATE_FRACTION * np.median(upper)) if upper.size else 0.0


def coverage_distance(candidates: np.ndarray, labeled: np.ndarray | None) -> np.ndarray:
    """(N,) distance to the nearest labeled frame: large = a blind spot of the training set.

    Without labeled frames every candidate gets 1 (all equally uncovered).
    """
    if labeled is None or len(labeled) == 0:
        return np.ones(len(candidates), dtype=np.float32)
    return min_distance_to(candidates, labeled)


def k_center_greedy(embeddings: np.ndarray, k: int, *, labeled: np.ndarray | None = None,
                    scores: np.ndarray | None = None, radius: float | None = None,
                    score_power: float = 1.0) -> list[int]:
    """Pick up to k rows that cover the embedding space (greedy k-center, Sener & Savarese).

    Each step takes the candidate farthest from everything labeled or already picked. With
    `scores` (N,) >= 0 the distance is multiplied by (scores ** score_power + small), trading
    coverage against informativeness. Candidates within `radius` (default `default_radius`)
    of a labeled or picked row are never taken. The first pick without labeled rows is the
    highest-scored (or the first) candidate.
    """
    x = np.asarray(embeddings, dtype=np.float32)
    n = len(x)
    if n == 0 or k <= 0:
        return []
    if radius is None:
        radius = default_radius(x)
    weight = np.ones(n) if scores is None else np.power(
        np.clip(np.asarray(scores, np.float64), 0, None), score_power) + 1e-3
    nearest = min_distance_to(x, labeled).astype(np.float64)
    picked: list[int] = []
    available = np.ones(n, dtype=bool)
    for _ in range(min(k, n)):
        eligible = available & (nearest > radius)
        if not eligible.any():
            break
        if np.isinf(nearest[eligible]).all():
            gain = np.where(eligible, weight, -np.inf)
        else:
            gain = np.where(eligible, nearest * weight, -np.inf)
        best = int(np.argmax(gain))
        picked.append(best)
        available[best] = False
        nearest = np.minimum(nearest, pairwise_distances(x, x[best:best + 1])[:, 0])
    return picked


def kmeans_pick(embeddings: np.ndarray, k: int, *, labeled: np.ndarray | None = None,
                scores: np.ndarray | None = None, radius: float | None = None,
                seed: int = 0) -> list[int]:
    """One frame per k-means cluster of the candidates (DeepLabCut's kmeans idea, on features).

    Candidates near labeled frames are dropped first. Per cluster, the member with the highest
    score is taken (the one nearest the centre without scores); a pick within `radius` of an
    earlier pick is skipped. Returns up to k unique rows, cluster by cluster (largest first).
    """
    x = np.asarray(embeddings, dtype=np.float32)
    if len(x) == 0 or k <= 0:
        return []
    if radius is None:
        radius = default_radius(x)
    keep = np.flatnonzero(min_distance_to(x, labeled) > radius)
    if keep.size == 0:
        return []
    if keep.size <= k:
        order = keep if scores is None else keep[np.argsort(-np.asarray(scores)[keep],
                                                            kind="stable")]
        return _dedupe(x, order.tolist(), radius, k)
    model = KMeans(n_clusters=k, random_state=seed, n_init=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clusters = model.fit_predict(x[keep])
    centre_dist = np.linalg.norm(x[keep] - model.cluster_centers_[clusters], axis=1)
    order_of_clusters = np.argsort(-np.bincount(clusters, minlength=k), kind="stable")
    chosen: list[int] = []
    for cluster in order_of_clusters:
        members = np.flatnonzero(clusters == cluster)
        if members.size == 0:
            continue
        if scores is None:
            best = members[np.argmin(centre_dist[members])]
        else:
            best = members[np.argmax(np.asarray(scores)[keep[members]])]
        chosen.append(int(keep[best]))
    return _dedupe(x, chosen, radius, k)


def _dedupe(x: np.ndarray, order: list[int], radius: float, k: int) -> list[int]:
    """Rows of `order` in order, skipping repeats and rows within `radius` of an earlier one."""
    out: list[int] = []
    for row in order:
        if row in out:
            continue
        if out and pairwise_distances(x[row:row + 1], x[out]).min() <= radius:
            continue
        out.append(row)
        if len(out) == k:
            break
    return out


def top_k(scores: np.ndarray, k: int, *, embeddings: np.ndarray | None = None,
          labeled: np.ndarray | None = None, radius: float | None = None) -> list[int]:
    """The k highest scores (ties by row), skipping near-duplicates when embeddings are given."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable").tolist()
    if embeddings is None:
        return order[:k]
    x = np.asarray(embeddings, dtype=np.float32)
    if radius is None:
        radius = default_radius(x)
    near = min_distance_to(x, labeled) <= radius
    return _dedupe(x, [r for r in order if not near[r]], radius, k)


def hybrid_pick(embeddings: np.ndarray, scores: np.ndarray, k: int, *,
                labeled: np.ndarray | None = None, method: str = "kcenter",
                shortlist_factor: float = 3.0, radius: float | None = None,
                seed: int = 0) -> list[int]:
    """Informative and diverse (scores in [0, 1], e.g. `uncertainty.combine`).

    "kcenter" (default): the top `shortlist_factor` x k candidates by score, then
    score-weighted k-center greedy among them: informativeness decides what is worth labeling,
    coverage keeps the batch from being k views of one hard situation (plain uncertainty
    sampling can do that, and on animal pose it did no better than uniform sampling: Mathis et
    al. 2021, Horse-10). In the sixth session's openfield replay (docs/benchmarks.md) its first
    picks had 4-11x the pool's mean error (the frames a young model still failed on) and it
    reached random selection's final error with half the labels.
    "cluster": k-means the candidates into k clusters (near-labeled ones dropped) and take the
    highest-scored frame of each: coverage first, informativeness within a cluster; it picks
    typical frames more than hard ones.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) == 0 or k <= 0:
        return []
    x = np.asarray(embeddings, dtype=np.float32)
    if radius is None:
        radius = default_radius(x)
    if method == "cluster":
        picked = kmeans_pick(x, k, labeled=labeled, scores=scores, radius=radius, seed=seed)
    elif method == "kcenter":
        m = min(len(scores), max(k, int(np.ceil(shortlist_factor * k))))
        shortlist = np.argsort(-scores, kind="stable")[:m]
        rows = k_center_greedy(x[shortlist], k, labeled=labeled, scores=scores[shortlist],
                               radius=radius)
        picked = [int(shortlist[r]) for r in rows]
    else:
        raise ValueError(f"unknown hybrid method {method!r}")
    if len(picked) < k:  # clusters or shortlist ran out of non-duplicates: widen to everything
        rest = k_center_greedy(x, k, labeled=_stack(labeled, x[picked]), scores=scores,
                               radius=radius)
        picked += [r for r in rest if r not in picked][: k - len(picked)]
    return picked


def _stack(a: np.ndarray | None, b: np.ndarray) -> np.ndarray:
    return b if a is None or len(a) == 0 else np.concatenate([a, b])
