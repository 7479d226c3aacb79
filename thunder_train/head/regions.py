"""Region weights on a triangle mesh: geodesic (edge-graph) distances, falloffs and harmonic fields."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from scipy.sparse.linalg import spsolve


def edges_of(faces: np.ndarray) -> np.ndarray:
    """Unique undirected edges (E, 2) of triangles ``faces`` (F, 3)."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    return np.unique(np.sort(e, axis=1), axis=0)


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((np.asarray(x, dtype=np.float64) - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def falloff(dist: np.ndarray, inner: float, outer: float) -> np.ndarray:
    """1 up to ``inner``, smooth down to 0 at ``outer`` (inf distance -> 0)."""
    return 1.0 - smoothstep(inner, outer, dist)


class SurfaceGraph:
    """Edge graph of the vertices ``active`` (bool (V,)) with Euclidean edge lengths."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, active: np.ndarray):
        self.n = len(vertices)
        e = edges_of(faces)
        e = e[active[e[:, 0]] & active[e[:, 1]]]
        self.edges = e
        self.lengths = np.linalg.norm(vertices[e[:, 0]] - vertices[e[:, 1]], axis=1)

    def distance(self, seeds, blocked=()) -> np.ndarray:
        """(V,) shortest edge-path length from any seed; paths may not pass through ``blocked`` vertices
        (a blocked vertex itself gets a distance, but nothing is reached through it)."""
        seeds = np.asarray(sorted(set(seeds)), dtype=np.int64)
        blocked = np.zeros(self.n, bool) if len(blocked) == 0 else np.isin(np.arange(self.n), list(blocked))
        blocked[seeds] = False
        e, w = self.edges, self.lengths
        # directed edges a->b allowed unless a is blocked (blocked vertices are sinks)
        rows = np.concatenate([e[:, 0], e[:, 1]])
        cols = np.concatenate([e[:, 1], e[:, 0]])
        ww = np.concatenate([w, w])
        keep = ~blocked[rows]
        src = self.n  # virtual source joined to every seed with length 0 (tiny epsilon)
        rows = np.concatenate([rows[keep], np.full(len(seeds), src)])
        cols = np.concatenate([cols[keep], seeds])
        ww = np.concatenate([ww[keep], np.full(len(seeds), 1e-12)])
        g = sp.csr_matrix((ww, (rows, cols)), shape=(self.n + 1, self.n + 1))
        return dijkstra(g, directed=True, indices=src)[: self.n]

    def harmonic(self, fixed: dict[int, float], active: np.ndarray) -> np.ndarray:
        """(V,) solution of the graph Laplace equation (cotangent-free, length-weighted) on ``active``
        vertices with the given Dirichlet values; inactive vertices get 0."""
        idx = np.flatnonzero(active)
        pos = -np.ones(self.n, dtype=np.int64)
        pos[idx] = np.arange(len(idx))
        keep = active[self.edges[:, 0]] & active[self.edges[:, 1]]
        e = self.edges[keep]
        w = 1.0 / np.maximum(self.lengths[keep], 1e-9)
        i, j = pos[e[:, 0]], pos[e[:, 1]]
        n = len(idx)
        lap = sp.csr_matrix((np.concatenate([w, w]), (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(n, n))
        deg = np.asarray(lap.sum(axis=1)).ravel()
        L = sp.diags(deg) - lap
        fixed_pos = np.array([pos[k] for k in fixed], dtype=np.int64)
        fixed_val = np.array(list(fixed.values()), dtype=np.float64)
        free = np.setdiff1d(np.arange(n), fixed_pos)
        x = np.zeros(n)
        x[fixed_pos] = fixed_val
        rhs = -L[free][:, fixed_pos] @ fixed_val
        x[free] = spsolve(L[free][:, free].tocsc(), rhs)
        out = np.zeros(self.n)
        out[idx] = x
        return out
