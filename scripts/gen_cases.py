#!/usr/bin/python3
"""gen_cases.py: random but valid matbench test vectors (the tests/vectors format).

Usage: /usr/bin/python3 scripts/gen_cases.py OUTDIR [--seed S] [--count N]

Writes N case directories NNN_<op>_<what>/ (case.txt, inputs as float32 .npy, expected.npy or
`expect error WORD`) into OUTDIR, covering every op and option of the vectors README. Expected
values are computed with numpy in float64 and cast to float32, following design/SEMANTICS.md:
broadcasting (§1), matmul (§2), mm/bmm (§3), dot (§4), tensordot (§5), batch_dot modern and legacy
(§6), einsum (§7), outer (§8), linear (§9), softmax (§10), attention (§11), shape ops (§12).
Tolerances follow §14. Deterministic for a given seed and count. Needs numpy only.
"""
import argparse
import math
import os
import sys

import numpy as np

U = 2.0 ** -24
F32 = np.float32


class CaseError(Exception):
    """The op must fail with this error word."""

    def __init__(self, word):
        super().__init__(word)
        self.word = word


def fmt_tol(v):
    """Format a tolerance, never smaller than v."""
    if v == 0:
        return "0"
    s = "%.2g" % v
    while float(s) < v:
        v *= 1.0 + 1e-3
        s = "%.2g" % v
    return s


def contraction_atol(absres, k):
    """§14: atol = 2(K+2)·2^-24·max|op(|a|,|b|)| (absres = op on absolute values)."""
    m = float(np.max(absres)) if np.size(absres) else 0.0
    return max(2.0 * (k + 2) * U * m, 1e-6)


# ---------------------------------------------------------------------------------------------
# random helpers


class Gen:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def i(self, lo, hi):
        """integer in [lo, hi]"""
        return int(self.rng.integers(lo, hi + 1))

    def p(self, prob):
        return bool(self.rng.random() < prob)

    def choice(self, seq):
        return seq[int(self.rng.integers(0, len(seq)))]

    big = False  # set per case: bigger dims reach the kernels' blocked / SIMD paths and their tails

    def dim(self, lo=1, hi=6, p0=0.0):
        if p0 and self.p(p0):
            return 0
        if self.big and hi >= 4 and self.p(0.6):
            return self.i(lo, hi * 9)
        return self.i(lo, hi)

    def shape(self, rmin, rmax, lo=1, hi=5, p0=0.0):
        return tuple(self.dim(lo, hi, p0) for _ in range(self.i(rmin, rmax)))

    def arr(self, shape, kind=None):
        shape = tuple(shape)
        kind = kind or self.choice(["normal", "normal", "uniform", "int", "scaled"])
        if kind == "normal":
            a = self.rng.standard_normal(shape)
        elif kind == "uniform":
            a = self.rng.uniform(-1, 1, shape)
        elif kind == "int":
            a = self.rng.integers(-4, 5, shape).astype(np.float64)
        else:
            a = self.rng.standard_normal(shape) * 10.0 ** self.rng.uniform(-2, 2)
        return np.asarray(a, dtype=F32).reshape(shape)

    def perm(self, n):
        return [int(v) for v in self.rng.permutation(n)]

    def neg(self, ax, n, prob=0.5):
        """maybe write axis ax of an n-D array as a negative index"""
        return ax - n if self.p(prob) else ax


# ---------------------------------------------------------------------------------------------
# broadcasting helpers (§1)


def bshape(a, b):
    n = max(len(a), len(b))
    a = (1,) * (n - len(a)) + tuple(a)
    b = (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise CaseError("broadcast")
    return tuple(out)


def sub_broadcast(g, out, rank=None):
    """a shape that broadcasts to `out` (right-aligned, dims either equal or 1)"""
    r = len(out) if rank is None else rank
    dims = list(out[len(out) - r:])
    return tuple(1 if g.p(0.35) else d for d in dims)


def incompatible(g, shape):
    """a shape that cannot broadcast against `shape` (shape must have a dim != 1 ... or we add one)"""
    shape = list(shape)
    idx = [i for i, d in enumerate(shape) if d != 1]
    if not idx:
        return None
    i = g.choice(idx)
    bad = list(shape)
    d = shape[i]
    bad[i] = d + g.i(1, 3)
    # any dims elsewhere: keep or 1
    return tuple(bad)


# ---------------------------------------------------------------------------------------------
# oracles (float64)


def f64(x):
    return np.asarray(x, dtype=np.float64)


def op_matmul(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise CaseError("rank")
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise CaseError("dimension")
    bshape(a2.shape[:-2], b2.shape[:-2])
    r = np.matmul(f64(a2), f64(b2))
    ra = np.matmul(np.abs(f64(a2)), np.abs(f64(b2)))
    if a.ndim == 1:
        r, ra = r[..., 0, :], ra[..., 0, :]
    if b.ndim == 1:
        r, ra = r[..., 0], ra[..., 0]
    return r, ra, a2.shape[-1]


def op_dot(a, b):
    A, B = f64(a), f64(b)
    if a.ndim == 0 or b.ndim == 0:
        return A * B, np.abs(A * B), 1
    if b.ndim == 1:
        if a.shape[-1] != b.shape[0]:
            raise CaseError("dimension")
        return np.dot(A, B), np.dot(np.abs(A), np.abs(B)), b.shape[0]
    if a.shape[-1] != b.shape[-2]:
        raise CaseError("dimension")
    return np.dot(A, B), np.dot(np.abs(A), np.abs(B)), a.shape[-1]


def op_tensordot(a, b, axes):
    if isinstance(axes, int):
        if axes < 0 or axes > a.ndim or axes > b.ndim:
            raise CaseError("axis")
        la = list(range(a.ndim - axes, a.ndim))
        lb = list(range(axes))
    else:
        la, lb = axes
        if len(la) != len(lb):
            raise CaseError("axis")
        la = [x + a.ndim if x < 0 else x for x in la]
        lb = [x + b.ndim if x < 0 else x for x in lb]
        if any(x < 0 or x >= a.ndim for x in la) or any(x < 0 or x >= b.ndim for x in lb):
            raise CaseError("axis")
        if len(set(la)) != len(la) or len(set(lb)) != len(lb):
            raise CaseError("axis")
    for x, y in zip(la, lb):
        if a.shape[x] != b.shape[y]:
            raise CaseError("dimension")
    k = int(np.prod([a.shape[x] for x in la])) if la else 1
    return (np.tensordot(f64(a), f64(b), (la, lb)), np.tensordot(np.abs(f64(a)), np.abs(f64(b)), (la, lb)), k)


def l2norm(x, axis):
    ss = np.sum(x * x, axis=axis, keepdims=True)
    return x / np.sqrt(np.maximum(ss, 1e-14))


def op_batch_dot(x, y, axes, normalize):
    """modern Keras batch_dot / Dot layer (§6); axes None, int or (a0, a1)"""
    if x.ndim < 2 or y.ndim < 2:
        raise CaseError("rank")
    if x.shape[0] != y.shape[0]:
        raise CaseError("batch")
    if axes is None:
        a0, a1 = x.ndim - 1, (y.ndim - 1 if y.ndim == 2 else y.ndim - 2)
    elif isinstance(axes, int):
        a0, a1 = axes, axes
    else:
        a0, a1 = axes
    if a0 < 0:
        a0 += x.ndim
    if a1 < 0:
        a1 += y.ndim
    if a0 == 0 or a1 == 0:
        raise CaseError("axis")
    if not (0 < a0 < x.ndim and 0 < a1 < y.ndim):
        raise CaseError("axis")
    if x.shape[a0] != y.shape[a1]:
        raise CaseError("dimension")
    X, Y = f64(x), f64(y)
    if normalize:
        X, Y = l2norm(X, a0), l2norm(Y, a1)
    B = x.shape[0]
    xr = [d for i, d in enumerate(x.shape) if i not in (0, a0)]
    yr = [d for i, d in enumerate(y.shape) if i not in (0, a1)]
    out = np.zeros((B,) + tuple(xr) + tuple(yr))
    outa = np.zeros_like(out)
    for bi in range(B):
        out[bi] = np.tensordot(X[bi], Y[bi], ([a0 - 1], [a1 - 1]))
        outa[bi] = np.tensordot(np.abs(X[bi]), np.abs(Y[bi]), ([a0 - 1], [a1 - 1]))
    if x.ndim == 2 and y.ndim == 2:
        out, outa = out.reshape(B, 1), outa.reshape(B, 1)
    return out, outa, x.shape[a0] + (4 if normalize else 0)


def op_batch_dot_legacy(x, y, axes):
    """Keras <= 2.2.4 TF backend batch_dot, step by step (§6 'legacy 1')"""
    if isinstance(axes, int):
        axes = (axes, axes)
    xn, yn = x.ndim, y.ndim
    if axes is None:
        axes = (xn - 1, yn - 2)
    X, Y = f64(x), f64(y)
    diff = 0
    if xn > yn:
        diff = xn - yn
        Y = Y.reshape(Y.shape + (1,) * diff)
    elif yn > xn:
        diff = yn - xn
        X = X.reshape(X.shape + (1,) * diff)
    if X.ndim < 2:
        raise CaseError("rank")
    if X.ndim == 2 and Y.ndim == 2:
        if axes[0] == axes[1]:
            XY = X * Y  # broadcasts like tf.multiply
            out = np.sum(XY, axis=axes[0])
            outa = np.sum(np.abs(XY), axis=axes[0])
            k = XY.shape[axes[0]]
        else:
            raise ValueError("legacy 2-D with different axes is not generated")
    else:
        if X.shape[:-2] != Y.shape[:-2]:
            raise CaseError("batch")
        if axes[0] != X.ndim - 1:
            X = np.swapaxes(X, -1, -2)
        if axes[1] == Y.ndim - 1:
            Y = np.swapaxes(Y, -1, -2)
        if X.shape[-1] != Y.shape[-2]:
            raise CaseError("dimension")
        out = np.matmul(X, Y)
        outa = np.matmul(np.abs(X), np.abs(Y))
        k = X.shape[-1]
    if diff:
        idx = xn + yn - 3 if xn > yn else xn - 1
        sq = tuple(range(idx, idx + diff))
        for ax in sq:
            if out.shape[ax] != 1:
                raise ValueError("legacy squeeze of a non-1 dim")
        out, outa = np.squeeze(out, sq), np.squeeze(outa, sq)
    if out.ndim == 1:
        out, outa = out[:, None], outa[:, None]
    return out, outa, k


def softmax64(x, axis):
    x = f64(x)
    with np.errstate(invalid="ignore", over="ignore"):
        m = np.max(x, axis=axis, keepdims=True) if x.size else x
        e = np.exp(x - m)
        return e / np.sum(e, axis=axis, keepdims=True)


def op_attention(q, k, v, mask, scale, causal):
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise CaseError("rank")
    d = q.shape[-1]
    if k.shape[-1] != d:
        raise CaseError("dimension")
    if k.shape[-2] != v.shape[-2]:
        raise CaseError("dimension")
    L, S = q.shape[-2], k.shape[-2]
    sb = bshape(q.shape[:-2], k.shape[:-2])
    bshape(sb, v.shape[:-2])
    sshape = sb + (L, S)
    if scale is None:
        scale = 1.0 / math.sqrt(d)
    Q, K, V = f64(q), f64(k), f64(v)
    scores = np.matmul(Q, np.swapaxes(K, -1, -2)) * scale
    sabs = np.matmul(np.abs(Q), np.abs(np.swapaxes(K, -1, -2))) * abs(scale)
    if mask is not None:
        if bshape(mask.shape, sshape) != sshape:
            raise CaseError("broadcast")
        scores = np.where(np.broadcast_to(mask, sshape) == 0, -np.inf, scores)
    if causal:
        keep = np.tril(np.ones((L, S), dtype=bool))
        scores = np.where(keep, scores, -np.inf)
    w = softmax64(scores, -1)
    out = np.matmul(w, V)
    return out, w, sabs, d, S


# ---------------------------------------------------------------------------------------------
# einsum


LOWER = "abcdefghijklmnopqrstuvwxyz"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def einsum_implicit_out(terms):
    cnt = {}
    for t in terms:
        for ch in t.replace("...", ""):
            cnt[ch] = cnt.get(ch, 0) + 1
    once = sorted(ch for ch, c in cnt.items() if c == 1)
    ell = any("..." in t for t in terms)
    return ("..." if ell else "") + "".join(once)


def einsum_k(terms, out, sizes):
    """product of the sizes of the summed labels"""
    outl = set(out.replace("...", ""))
    k = 1
    for ch in set("".join(t.replace("...", "") for t in terms)):
        if ch not in outl:
            k *= sizes[ch]
    return k


# ---------------------------------------------------------------------------------------------
# case writing


class Writer:
    def __init__(self, outdir):
        self.outdir = outdir
        self.n = 0

    def write(self, name, op, inputs, opts, result=None, error=None, rtol=None, atol=None, extra=None, desc=None):
        d = os.path.join(self.outdir, "%03d_%s_%s" % (self.n, op, name))
        self.n += 1
        os.makedirs(d, exist_ok=True)
        lines = ["op " + op, "inputs " + " ".join(k for k, _ in inputs)]
        for k, arr in inputs:
            np.save(os.path.join(d, k + ".npy"), np.array(arr, dtype="<f4", order="C"))
        lines += opts
        if error is not None:
            lines.append("expect error " + error)
        else:
            res = np.asarray(result, dtype=np.float64).astype(F32)
            lines.append("expect ok")
            lines.append(("out_shape " + " ".join(str(s) for s in res.shape)).rstrip())
            lines.append("rtol " + ("0" if rtol == 0 else "%g" % rtol))
            lines.append("atol " + fmt_tol(atol))
            np.save(os.path.join(d, "expected.npy"), np.array(res, dtype="<f4", order="C"))
            if extra:
                for ename, earr in extra:
                    lines.append("extra_output " + ename)
                    np.save(os.path.join(d, ename + ".npy"),
                            np.array(np.asarray(earr, dtype=np.float64).astype(F32), dtype="<f4", order="C"))
        if desc:
            lines.append("desc " + desc)
        with open(os.path.join(d, "case.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        return d


def shp(s):
    return "(" + ",".join(str(x) for x in s) + ("," if len(s) == 1 else "") + ")"


# ---------------------------------------------------------------------------------------------
# case makers: each returns (name, op, inputs, opts, fn) where fn() computes
# (result, rtol, atol, extra) or raises CaseError


def mk_binary(g, err=False):
    op = g.choice(["add", "sub", "mul", "div"])
    out = g.shape(0, 4, 1, 5, p0=0.08)
    ra, rb = g.i(0, len(out)), g.i(0, len(out))
    sa, sb = sub_broadcast(g, out, ra), sub_broadcast(g, out, rb)
    if g.p(0.5):
        sa, sb = sb, sa
    tag = "ok"
    if err:
        if not any(d != 1 for d in sa):
            sa = sa + (g.i(2, 4),)
        bad = incompatible(g, sa)
        # keep a random right-aligned part of the incompatible shape, plus maybe extra leading dims
        sb = g.shape(0, 1, 1, 3) + bad
        tag = "bcast_err"
    a, b = g.arr(sa), g.arr(sb)
    if op == "div" and b.size and g.p(0.6):
        flat = b.reshape(-1)
        for _ in range(g.i(1, 3)):
            flat[g.i(0, flat.size - 1)] = g.choice([0.0, -0.0])
        b = flat.reshape(b.shape)
        if a.size and g.p(0.5):
            fa = a.reshape(-1)
            fa[g.i(0, fa.size - 1)] = 0.0
            a = fa.reshape(a.shape)

    def fn():
        bshape(a.shape, b.shape)
        A, B = f64(a), f64(b)
        with np.errstate(all="ignore"):
            r = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}[op](A, B)
        return r, 1e-6, 1e-30, None

    return "%s_%s_%s" % (tag, "x".join(map(str, sa)) or "s", "x".join(map(str, sb)) or "s"), op, \
        [("a", a), ("b", b)], [], fn, "%s %s %s" % (op, shp(sa), shp(sb))


def mk_matmul(g, err=None):
    kind = g.choice(["nd", "nd", "nd", "1d_a", "1d_b", "1d_1d"])
    M, K, N = g.dim(1, 6, 0.08), g.dim(1, 7, 0.08), g.dim(1, 6, 0.08)
    batch = g.shape(0, 3, 1, 3, p0=0.05)
    ba = sub_broadcast(g, batch, g.i(0, len(batch)))
    bb = sub_broadcast(g, batch, g.i(0, len(batch)))
    if kind == "1d_a":
        sa, sb = (K,), bb + (K, N)
    elif kind == "1d_b":
        sa, sb = ba + (M, K), (K,)
    elif kind == "1d_1d":
        sa, sb = (K,), (K,)
    else:
        sa, sb = ba + (M, K), bb + (K, N)
    if err == "dimension":
        sb = sb[:-1] + (sb[-1] + 1,) if len(sb) == 1 else sb[:-2] + (sb[-2] + g.i(1, 2), sb[-1])
    elif err == "broadcast":
        sa, sb = (g.i(2, 3), 2) + (M, K), (3,) + (K, N)
    elif err == "rank":
        sa, sb = ((), (K,)) if g.p(0.5) else ((M, K), ())
    a, b = g.arr(sa), g.arr(sb)

    def fn():
        r, ra, k = op_matmul(a, b)
        return r, 1e-5, contraction_atol(ra, k), None

    return kind + ("_" + err if err else ""), "matmul", [("a", a), ("b", b)], [], fn, \
        "matmul %s @ %s" % (shp(sa), shp(sb))


def mk_mm(g, err=None):
    M, K, N = g.dim(1, 8, 0.05), g.dim(1, 8, 0.05), g.dim(1, 8, 0.05)
    sa, sb = (M, K), (K, N)
    if err == "dimension":
        sb = (K + 1, N)
    elif err == "rank":
        sa = (2, M, K) if g.p(0.5) else (K,)
    a, b = g.arr(sa), g.arr(sb)

    def fn():
        if a.ndim != 2 or b.ndim != 2:
            raise CaseError("rank")
        r, ra, k = op_matmul(a, b)
        return r, 1e-5, contraction_atol(ra, k), None

    return (err or "ok"), "mm", [("a", a), ("b", b)], [], fn, "mm %s %s" % (shp(sa), shp(sb))


def mk_bmm(g, err=None):
    B, M, K, N = g.dim(1, 4, 0.05), g.dim(1, 6, 0.05), g.dim(1, 6, 0.05), g.dim(1, 6, 0.05)
    sa, sb = (B, M, K), (B, K, N)
    if err == "dimension":
        sb = (B, K + 1, N)
    elif err == "batch":
        sb = (B + 1, K, N) if g.p(0.5) else (1, K, N) if B != 1 else (2, K, N)
    elif err == "rank":
        sa = (M, K) if g.p(0.5) else (1, B, M, K)
    a, b = g.arr(sa), g.arr(sb)

    def fn():
        if a.ndim != 3 or b.ndim != 3:
            raise CaseError("rank")
        if a.shape[0] != b.shape[0]:
            raise CaseError("batch")
        r, ra, k = op_matmul(a, b)
        return r, 1e-5, contraction_atol(ra, k), None

    return (err or "ok"), "bmm", [("a", a), ("b", b)], [], fn, "bmm %s %s" % (shp(sa), shp(sb))


def mk_dot(g, err=None):
    row = g.choice(["scalar", "vv", "nv", "nm", "nm", "vm"])
    K = g.dim(1, 6, 0.06)
    if row == "scalar":
        other = g.shape(0, 3, 1, 4, p0=0.05)
        sa, sb = ((), other) if g.p(0.5) else (other, ())
    elif row == "vv":
        sa, sb = (K,), (K,)
    elif row == "nv":
        sa, sb = g.shape(1, 3, 1, 4, p0=0.05) + (K,), (K,)
    elif row == "vm":
        sa, sb = (K,), g.shape(0, 2, 1, 4, p0=0.05) + (K, g.dim(1, 4))
    else:
        sa, sb = g.shape(1, 2, 1, 4) + (K,), g.shape(0, 2, 1, 3) + (K, g.dim(1, 4, 0.05))
    if err == "dimension":
        if row == "scalar":
            row, sa, sb = "vv", (K,), (K + 1,)
        elif len(sb) == 1:
            sb = (K + 1,)
        else:
            sb = sb[:-2] + (K + g.i(1, 2), sb[-1])
    a, b = g.arr(sa), g.arr(sb)

    def fn():
        r, ra, k = op_dot(a, b)
        return r, 1e-5, contraction_atol(ra, k), None

    return row + ("_" + err if err else ""), "dot", [("a", a), ("b", b)], [], fn, "dot %s %s" % (shp(sa), shp(sb))


def mk_tensordot(g, err=None):
    ra_ = g.i(0, 4)
    sa = g.shape(ra_, ra_, 1, 4, p0=0.04)
    opts = []
    if g.p(0.4):
        n = g.i(0, len(sa))
        contracted = sa[len(sa) - n:]
        sb = contracted + g.shape(0, 2, 1, 4)
        axes = n
        if err == "dimension":
            if n == 0:
                n = len(sa) and 1
                if n == 0:
                    sa = (3,)
                    n = 1
                axes = n
                sb = (sa[-1] + 1,) + sb
            else:
                sb = (sb[0] + 1,) + sb[1:]
        elif err == "axis":
            axes = max(len(sa), len(sb)) + g.i(1, 2)
        opts = ["axes %d" % axes]
    else:
        if not sa:
            sa = (g.dim(1, 4),)
        n = g.i(1, len(sa)) if g.p(0.85) else 0
        la = g.perm(len(sa))[:n]
        freeb = g.shape(0, 2, 1, 4)
        rb = n + len(freeb)
        posb = g.perm(rb)[:n]
        sbl = [None] * rb
        fi = iter(freeb)
        for x, y in zip(la, posb):
            sbl[y] = sa[x]
        for i in range(rb):
            if sbl[i] is None:
                sbl[i] = next(fi)
        sb = tuple(sbl)
        lb = list(posb)
        if err == "dimension":
            if n == 0:
                la, lb = [0], [0]
                sb = (sa[0] + 1,) + sb
            else:
                j = g.i(0, n - 1)
                sbl = list(sb)
                sbl[lb[j]] += 1
                sb = tuple(sbl)
        elif err == "axis":
            how = g.choice(["range", "repeat", "range"])
            if how == "range" or n < 2 or len(sb) < 1:
                if not la:
                    la, lb = [0], [0]
                    sb = (sa[0],) + sb
                la = list(la)
                la[0] = len(sa) + g.i(0, 2) if g.p(0.5) else -len(sa) - g.i(1, 2)
            else:
                la = list(la)
                la[1] = la[0]
                lb = list(lb)
        la = [g.neg(x, len(sa), 0.4) if 0 <= x < len(sa) else x for x in la]
        lb = [g.neg(x, len(sb), 0.4) for x in lb]
        axes = (la, lb)
        opts = ["axes_a " + " ".join(map(str, la)) if la else "axes_a",
                "axes_b " + " ".join(map(str, lb)) if lb else "axes_b"]
    a, b = g.arr(sa), g.arr(sb)
    if opts[0] == "axes_a":  # the README has no spelling for empty lists: use axes 0
        opts = ["axes 0"]
        axes = 0

    def fn():
        r, ra, k = op_tensordot(a, b, axes)
        return r, 1e-5, contraction_atol(ra, k), None

    return ("int" if isinstance(axes, int) else "lists") + ("_" + err if err else ""), "tensordot", \
        [("a", a), ("b", b)], opts, fn, "tensordot %s %s %s" % (shp(sa), shp(sb), " ".join(opts))


def mk_batch_dot(g, err=None):
    B = g.dim(1, 4)
    xr, yr = g.i(2, 4), g.i(2, 4)
    mode = g.choice(["none", "int", "pair", "pair"])
    normalize = g.p(0.2)
    if mode == "none":
        a0, a1 = xr - 1, (yr - 1 if yr == 2 else yr - 2)
        axopt, axes = "axes none", None
    elif mode == "int":
        k = g.i(1, min(xr, yr) - 1)
        neg = g.p(0.4)
        a0, a1 = k, k
        if neg:
            # per-input normalisation: -j means xr-j for x and yr-j for y
            j = g.i(1, min(xr, yr) - 1)
            a0, a1 = xr - j, yr - j
            k = -j
        axopt, axes = "axes %d" % k, k
    else:
        a0, a1 = g.i(1, xr - 1), g.i(1, yr - 1)
        w0, w1 = g.neg(a0, xr, 0.35), g.neg(a1, yr, 0.35)
        axopt, axes = "axes %d %d" % (w0, w1), (w0, w1)
    xs = [B] + [g.dim(1, 4, 0.04) for _ in range(xr - 1)]
    ys = [B] + [g.dim(1, 4, 0.04) for _ in range(yr - 1)]
    ys[a1] = xs[a0]
    if err == "rank":
        if g.p(0.5):
            xs = [B]
        else:
            ys = [B]
        axopt, axes = "axes none", None
    elif err == "batch":
        ys[0] = B + 1
    elif err == "dimension":
        ys[a1] = xs[a0] + 1
    elif err == "axis":
        how = g.choice(["zero", "negzero", "range"])
        if how == "zero":
            axopt, axes = ("axes 0", 0) if g.p(0.4) else ("axes %d 0" % (a0,), (a0, 0))
        elif how == "negzero":
            axopt, axes = ("axes %d %d" % (-xr, a1), (-xr, a1))
        else:
            axopt, axes = ("axes %d %d" % (a0, yr + g.i(0, 1)), (a0, yr)) if g.p(0.5) else \
                ("axes %d %d" % (-xr - 1, a1), (-xr - 1, a1))
            if "axes %d %d" % (a0, yr + 1) == axopt:
                axes = (a0, yr + 1)
    x, y = g.arr(xs), g.arr(ys)
    opts = [axopt, "normalize %d" % int(normalize)]

    def fn():
        r, ra, k = op_batch_dot(x, y, axes, normalize)
        return r, 1e-5, contraction_atol(ra, k), None

    return "%s_%dd_%dd%s%s" % (mode, xr, yr, "_norm" if normalize else "", "_" + err if err else ""), "batch_dot", \
        [("a", x), ("b", y)], opts, fn, "batch_dot %s %s %s normalize=%d" % (shp(xs), shp(ys), axopt, normalize)


def mk_batch_dot_legacy(g, err=None):
    kind = g.choice(["eq", "eq", "eq", "xhigh", "yhigh"] + ([] if err else ["2d"]))
    B = g.dim(1, 3)
    n, m, p = g.dim(1, 4), g.dim(1, 4), g.dim(1, 4)
    lead = (B,) + g.shape(0, 2, 1, 3)
    if kind == "eq":
        # default axes: (10,12,4,5)x(10,12,5,8) style; pair axes with transposes
        ax = g.choice(["none", "none", "pair"])
        r = len(lead) + 2
        if ax == "none":
            xs, ys, axes, opt = lead + (n, m), lead + (m, p), None, "axes none"
        else:
            a0 = g.choice([r - 1, r - 2])
            a1 = g.choice([r - 1, r - 2])
            xs = lead + ((n, m) if a0 == r - 1 else (m, n))
            ys = lead + ((p, m) if a1 == r - 1 else (m, p))
            axes, opt = (a0, a1), "axes %d %d" % (a0, a1)
    elif kind == "xhigh":
        # x (B,...,n,m) . y (B,m): y padded to (B,m,1); default axes
        xs, ys, axes, opt = (B, n, m), (B, m), None, "axes none"
    elif kind == "yhigh":
        # x (B,m) . y (B,m,p) -> x padded (B,m,1); axes (1,1): x contracts its second-to-last
        xs, ys, axes, opt = (B, m), (B, m, p), 1, "axes 1"
    else:
        xs, ys, axes, opt = (B, m), (B, m), 1, "axes 1"
    if err == "batch":
        ys = (ys[0] + 1,) + ys[1:]
    elif err == "dimension":
        xs = xs[:-1] + (xs[-1] + 1,) if kind != "eq" or axes is None else xs
        if kind == "eq" and axes is not None:
            xs = xs[:-2] + (xs[-2] + 1, xs[-1] + 1)
    x, y = g.arr(xs), g.arr(ys)

    def fn():
        r, ra, k = op_batch_dot_legacy(x, y, axes)
        return r, 1e-5, contraction_atol(ra, k), None

    return "legacy_" + kind + ("_" + err if err else ""), "batch_dot", [("a", x), ("b", y)], \
        [opt, "legacy 1", "normalize 0"], fn, "legacy batch_dot %s %s %s" % (shp(xs), shp(ys), opt)


def mk_einsum(g, err=None):
    nops = g.choice([1, 1, 2, 2, 2, 3])
    pool = list(LOWER[:10]) + list(UPPER[:4])
    nlab = g.i(1, 6)
    labels = [pool[int(i)] for i in g.rng.permutation(len(pool))[:nlab]]
    sizes = {ch: g.dim(1, 4, 0.04) for ch in labels}
    use_ell = g.p(0.25)
    ell_out = g.shape(0, 2, 1, 3) if use_ell else ()
    terms, shapes = [], []
    for oi in range(nops):
        r = g.i(0 if nops > 1 else 1, min(4, len(labels) + 1))
        t = [g.choice(labels) for _ in range(r)]
        # repeated labels (diagonal) happen naturally; cap them
        s = [sizes[ch] for ch in t]
        tstr = "".join(t)
        if use_ell and g.p(0.8):
            er = g.i(0, len(ell_out))
            es = sub_broadcast(g, ell_out, er)
            pos = g.i(0, len(t))
            tstr = "".join(t[:pos]) + "..." + "".join(t[pos:])
            s = s[:pos] + list(es) + s[pos:]
        terms.append(tstr)
        shapes.append(tuple(s))
    if not any("..." in t for t in terms):
        use_ell = False
    used = sorted(set("".join(t.replace("...", "") for t in terms)))
    explicit = g.p(0.65)
    if explicit:
        keep = [ch for ch in used if g.p(0.5)]
        keep = [keep[int(i)] for i in g.rng.permutation(len(keep))]
        out = "".join(keep)
        if use_ell:
            pos = g.i(0, len(out))
            out = out[:pos] + "..." + out[pos:]
        eq = ",".join(terms) + "->" + out
    else:
        eq = ",".join(terms)
        out = einsum_implicit_out(terms)
    tag = "explicit" if explicit else "implicit"
    if err == "subscript":
        how = g.choice(["count", "outlabel", "outrep", "char", "ell2"])
        arrow = "->" + out if explicit else ""
        if how == "count":
            # one operand gets one more dim than it has labels (and no ellipsis to absorb it)
            t0 = terms[0].replace("...", "")
            terms[0] = t0
            shapes[0] = tuple(sizes[ch] for ch in t0) + (2,)
            if explicit:
                arrow = "->" + out.replace("...", "") if not any("..." in t for t in terms) else arrow
            eq = ",".join(terms) + arrow
        elif how == "outlabel":
            free = [ch for ch in LOWER + UPPER if ch not in used]
            eq = ",".join(terms) + "->" + out + free[0]
        elif how == "outrep":
            if not used:
                terms[0] = "z" + terms[0]
                shapes[0] = (2,) + shapes[0]
                used = ["z"]
            eq = ",".join(terms) + "->" + used[0] + used[0]
        elif how == "char":
            eq = ",".join(terms) + "->" + out + "1"
        else:
            t0 = terms[0].replace("...", "")
            terms[0] = "..." + t0 + "..."
            shapes[0] = tuple(sizes[ch] for ch in t0) + (2,)
            eq = ",".join(terms) + arrow
        tag += "_" + how
    elif err == "dimension":
        cand = [(oi, j) for oi, t in enumerate(terms) for j, ch in enumerate(t.replace("...", ""))]
        cnt = {}
        for t in terms:
            for ch in t.replace("...", ""):
                cnt[ch] = cnt.get(ch, 0) + 1
        cand = [(oi, j) for oi, j in cand
                if cnt[terms[oi].replace("...", "")[j]] > 1 and sizes[terms[oi].replace("...", "")[j]] != 1]
        if not cand:
            terms = ["ij", "jk"]
            shapes = [(2, 3), (4, 5)]
            eq = "ij,jk->ik"
        else:
            oi, j = g.choice(cand)
            t = terms[oi]
            # position of the j-th label in the shape
            pre = t.index("...") if "..." in t else len(t)
            nl = len(t.replace("...", ""))
            ne = len(shapes[oi]) - nl
            pos = j if j < pre else j + ne
            s = list(shapes[oi])
            s[pos] = s[pos] + 2  # +2: never 1, so no size-1 broadcasting corner
            shapes[oi] = tuple(s)
    elif err == "broadcast":
        ts = [t for t in range(nops) if "..." in terms[t]]
        terms = ["...ij", "j...k"] if g.p(0.5) else ["...i,...i"]
        if len(terms) == 2:
            shapes = [(2, 3, 4, 5), (5, 4, 6)]
            eq = "...ij,j...k->...ik"
        else:
            terms = ["...i", "...i"]
            shapes = [(3, 4), (2, 4)]
            eq = "...i,...i"
    arrs = [g.arr(s) for s in shapes]
    names = ["a", "b", "c"][:len(arrs)]

    def fn():
        A = [f64(x) for x in arrs]
        try:
            r = np.einsum(eq, *A)
        except ValueError:
            # an intended error case (numpy rejects it too), or a draw numpy rejects: redraw
            raise CaseError(err or "numpy-rejects")
        if err:
            raise RuntimeError("numpy accepts the intended %s error case %s %s" % (err, eq, [x.shape for x in A]))
        ra = np.einsum(eq, *[np.abs(x) for x in A])
        szs = dict(sizes)
        return r, 1e-5, contraction_atol(ra, einsum_k(terms, out, szs) * (2 if nops == 3 else 1)), None

    return "%dops_%s%s" % (nops, tag, "_" + err if err else ""), "einsum", list(zip(names, arrs)), \
        ["equation " + eq], fn, "einsum %s %s" % (eq, " ".join(shp(s) for s in shapes))


def mk_outer(g, err=None):
    sa, sb = (g.choice([0, 1, g.i(2, 9)]),), (g.choice([0, 1, g.i(2, 9)]),)
    a, b = g.arr(sa), g.arr(sb)

    def fn():
        return np.outer(f64(a), f64(b)), 1e-6, 1e-30, None

    return "%d_%d" % (sa[0], sb[0]), "outer", [("a", a), ("b", b)], [], fn, "outer %s %s" % (shp(sa), shp(sb))


def mk_linear(g, err=None):
    fin, fout = g.dim(1, 8, 0.05), g.dim(1, 6, 0.05)
    lead = g.shape(0, 3, 1, 4, p0=0.04)
    bias = g.p(0.6)
    sx, sw, sbias = lead + (fin,), (fout, fin), (fout,)
    if err == "dimension":
        if bias and g.p(0.4):
            sbias = (fout + 1,)
        else:
            sw = (fout, fin + 1)
    elif err == "rank":
        sw = g.choice([(fin,), (2, fout, fin)])
    x, w = g.arr(sx), g.arr(sw)
    ins = [("x", x), ("w", w)]
    bb = None
    if bias:
        bb = g.arr(sbias)
        ins.append(("bias", bb))

    def fn():
        if w.ndim != 2:
            raise CaseError("rank")
        if x.shape[-1] != w.shape[1]:
            raise CaseError("dimension")
        if bb is not None and bb.shape != (w.shape[0],):
            raise CaseError("dimension")
        r = f64(x) @ f64(w).T
        ra = np.abs(f64(x)) @ np.abs(f64(w)).T
        if bb is not None:
            r = r + f64(bb)
            ra = ra + np.abs(f64(bb))
        return r, 1e-5, contraction_atol(ra, fin + 1), None

    return "%s%s" % ("bias" if bias else "nobias", "_" + err if err else ""), "linear", ins, [], fn, \
        "linear x%s w%s%s" % (shp(sx), shp(sw), " b" + shp(sbias) if bias else "")


def mk_softmax(g, err=None):
    s = g.shape(1, 4, 1, 6, p0=0.03)
    r = len(s)
    ax = g.i(-r, r - 1)
    if err == "axis":
        ax = g.choice([r + g.i(0, 2), -r - 1 - g.i(0, 2)])
    x = f64(g.arr(s, g.choice(["normal", "uniform", "scaled"]))) * g.choice([1.0, 3.0, 10.0])
    if x.size and g.p(0.5):
        fl = x.reshape(-1)
        for _ in range(g.i(1, 4)):
            fl[g.i(0, fl.size - 1)] = -np.inf
        x = fl.reshape(s)
    if x.size and g.p(0.3) and err is None:
        # one whole slice along the axis all -inf -> NaN
        idx = [g.i(0, d - 1) for d in s]
        idx[ax % r] = slice(None)
        x[tuple(idx)] = -np.inf
    if x.size and g.p(0.25) and err is None:
        idx = [g.i(0, d - 1) for d in s]
        idx[ax % r] = slice(None)
        x[tuple(idx)] += 1000.0
    x = x.astype(F32)

    def fn():
        if not -r <= ax < r:
            raise CaseError("axis")
        return softmax64(x, ax), 1e-5, 1e-6, None

    return "axis%d%s" % (ax, "_" + err if err else ""), "softmax", [("a", x)], ["axis %d" % ax], fn, \
        "softmax %s axis %d" % (shp(s), ax)


def mk_attention(g, err=None):
    L, S, d, dv = g.dim(1, 6), g.dim(1, 7), g.dim(1, 8), g.dim(1, 6)
    batch = g.shape(0, 2, 1, 3)
    qb = sub_broadcast(g, batch, len(batch))
    kb = sub_broadcast(g, batch, g.i(0, len(batch)))
    vb = kb if g.p(0.8) else sub_broadcast(g, batch, g.i(0, len(batch)))
    sq, sk, sv = qb + (L, d), kb + (S, d), vb + (S, dv)
    sb = bshape(bshape(qb, kb), ())
    sshape = sb + (L, S)
    use_mask = g.p(0.5)
    causal = (not use_mask) and g.p(0.5)
    has_scale = g.p(0.3)
    scale = float(F32(g.choice([0.125, 0.5, 1.0, 0.3, 2.0]))) if has_scale else None
    smask = None
    if use_mask:
        rr = g.i(2, len(sshape))
        smask = sub_broadcast(g, sshape, rr)
    if err == "dimension":
        if g.p(0.5):
            sk = sk[:-1] + (d + 1,)
        else:
            sv = sv[:-2] + (S + 1, dv)
    elif err == "broadcast":
        use_mask, causal = True, False
        smask = (L + 1, S) if g.p(0.5) else (L, S + 2)
    q = g.arr(sq, "normal")
    k = g.arr(sk, "normal")
    v = g.arr(sv, "normal")
    ins = [("q", q), ("k", k), ("v", v)]
    mask = None
    if use_mask:
        mask = (g.rng.random(smask) < 0.7).astype(F32)
        if mask.size and g.p(0.5) and err is None:
            # a fully masked query row (where the mask varies over L)
            if len(smask) >= 2 and smask[-2] == L:
                idx = [g.i(0, dd - 1) for dd in smask[:-1]]
                mask[tuple(idx) + (slice(None),)] = 0.0
        ins.append(("mask", mask))
    opts = []
    if has_scale:
        opts.append("scale %g" % scale)
    opts.append("causal %d" % int(causal))

    def fn():
        out, w, sabs, dd, SS = op_attention(q, k, v, mask, scale, causal)
        es = 2.0 * (dd + 2) * U * (float(np.max(sabs)) if sabs.size else 0.0)
        vmax = float(np.max(np.abs(v))) if v.size else 0.0
        atol = 2.0 * max(1.0, vmax) * (4.0 * es + 2.0 * (SS + 2) * U + 32.0 * U)
        return out, 1e-5, max(atol, 1e-6), [("expected_weights", w)]

    desc = "attention q%s k%s v%s%s%s%s" % (shp(sq), shp(sk), shp(sv), " mask" + shp(smask) if use_mask else "",
                                              " causal" if causal else "", " scale %g" % scale if has_scale else "")
    return "%s%s%s" % ("mask" if use_mask else "causal" if causal else "plain", "_scale" if has_scale else "",
                       "_" + err if err else ""), "attention", ins, opts, fn, desc


def mk_transpose(g, err=None):
    s = g.shape(0, 5, 1, 4, p0=0.04)
    r = len(s)
    perm = None
    if g.p(0.8) or err:
        perm = [g.neg(p, r, 0.3) for p in g.perm(r)]
    if err == "axis":
        if r == 0:
            s, r, perm = (2, 3), 2, [0, 1]
        how = g.choice(["dup", "range", "len"])
        if how == "dup" and r >= 2:
            perm[1] = perm[0]
        elif how == "len":
            perm = perm[:-1] if g.p(0.5) and r > 1 else perm + [r]
        else:
            perm[g.i(0, r - 1)] = g.choice([r, -r - 1])
    x = g.arr(s)
    opts = ["perm " + " ".join(map(str, perm))] if perm is not None else []
    if perm is not None and not perm:
        opts = ["perm"]

    def fn():
        if perm is None:
            return np.transpose(x), 0, 0, None
        if len(perm) != r or any(not -r <= p < r for p in perm):
            raise CaseError("axis")
        pp = [p % r for p in perm]
        if len(set(pp)) != r:
            raise CaseError("axis")
        return np.transpose(x, pp), 0, 0, None

    return ("perm" if perm is not None else "default") + ("_" + err if err else ""), "transpose", [("a", x)], opts, \
        fn, "transpose %s %s" % (shp(s), opts[0] if opts else "")


def mk_concatenate(g, err=None):
    n = g.i(1, 4)
    r = g.i(1, 4)
    base = list(g.shape(r, r, 1, 4, p0=0.03))
    ax = g.i(-r, r - 1)
    shapes = []
    for _ in range(n):
        s = list(base)
        s[ax % r] = g.dim(0, 4)
        shapes.append(tuple(s))
    if err == "dimension":
        if r == 1:
            r, ax = 2, 0
            shapes = [tuple(s) + (3,) for s in shapes]
        if n == 1:
            shapes.append(shapes[0])
            n = 2
        j = g.i(1, n - 1)
        other = [i for i in range(r) if i != ax % r]
        s = list(shapes[j])
        s[g.choice(other)] += 1
        shapes[j] = tuple(s)
    elif err == "axis":
        ax = g.choice([r + g.i(0, 1), -r - 1])
    arrs = [g.arr(s) for s in shapes]
    names = ["a", "b", "c", "d"][:n]

    def fn():
        if not -r <= ax < r:
            raise CaseError("axis")
        for s in shapes:
            for i in range(r):
                if i != ax % r and s[i] != shapes[0][i]:
                    raise CaseError("dimension")
        return np.concatenate([f64(x) for x in arrs], axis=ax), 0, 0, None

    return "%din_axis%d%s" % (n, ax, "_" + err if err else ""), "concatenate", list(zip(names, arrs)), \
        ["axis %d" % ax], fn, "concatenate %s axis %d" % (" ".join(shp(s) for s in shapes), ax)


def mk_stack(g, err=None):
    n = g.i(1, 4)
    s = g.shape(0, 3, 1, 4, p0=0.04)
    r = len(s)
    ax = g.i(-(r + 1), r)
    shapes = [s] * n
    if err == "shape":
        if n == 1:
            n = 2
            shapes = [s, s]
        t = list(s) if s else []
        if t and g.p(0.6):
            t[g.i(0, len(t) - 1)] += 1
        else:
            t = t + [2]
        shapes = shapes[:-1] + [tuple(t)]
    elif err == "axis":
        ax = g.choice([r + 1 + g.i(0, 1), -r - 2])
    arrs = [g.arr(x) for x in shapes]
    names = ["a", "b", "c", "d"][:n]

    def fn():
        if any(x != shapes[0] for x in shapes):
            raise CaseError("shape")
        if not -(r + 1) <= ax <= r:
            raise CaseError("axis")
        return np.stack([f64(x) for x in arrs], axis=ax), 0, 0, None

    return "%din_axis%d%s" % (n, ax, "_" + err if err else ""), "stack", list(zip(names, arrs)), \
        ["axis %d" % ax], fn, "stack %s axis %d" % (" ".join(shp(x) for x in shapes), ax)


def mk_expand_dims(g, err=None):
    s = g.shape(0, 4, 1, 4, p0=0.04)
    r = len(s)
    ax = g.i(-(r + 1), r)
    if err == "axis":
        ax = g.choice([r + 1 + g.i(0, 1), -r - 2])
    x = g.arr(s)

    def fn():
        if not -(r + 1) <= ax <= r:
            raise CaseError("axis")
        return np.expand_dims(f64(x), ax), 0, 0, None

    return "axis%d%s" % (ax, "_" + err if err else ""), "expand_dims", [("a", x)], ["axis %d" % ax], fn, \
        "expand_dims %s axis %d" % (shp(s), ax)


def mk_reshape(g, err=None):
    s = g.shape(0, 4, 1, 4, p0=0.03)
    n = int(np.prod(s)) if s else 1
    # factor n into a random target shape
    tgt = []
    rem = n
    if n == 0:
        tgt = [g.i(1, 3) for _ in range(g.i(0, 2))]
        tgt.insert(g.i(0, len(tgt)), 0)
    else:
        while rem > 1 and len(tgt) < 4:
            divs = [d for d in range(2, rem + 1) if rem % d == 0]
            d = g.choice(divs)
            tgt.append(d)
            rem //= d
        if g.p(0.3):
            tgt.insert(g.i(0, len(tgt)), 1)
        tgt = [tgt[int(i)] for i in g.rng.permutation(len(tgt))]
        if g.p(0.5) and tgt:
            tgt[g.i(0, len(tgt) - 1)] = -1
    if err == "size":
        if -1 in tgt and n > 0:
            # product of the others does not divide n
            tgt = [t for t in tgt if t != -1] + [n + 1, -1] if n > 1 else [2, -1]
            if n == 1:
                tgt = [2, -1]
        else:
            tgt = [t for t in tgt if t != -1] + [n + 1] if n else [1, 2]
    x = g.arr(s)
    opts = ["shape " + " ".join(map(str, tgt)) if tgt else "shape"]

    def fn():
        try:
            r = np.reshape(f64(x), tgt)
        except ValueError:
            raise CaseError("size")
        return r, 0, 0, None

    return "%s%s" % ("infer" if -1 in tgt else "full", "_" + err if err else ""), "reshape", [("a", x)], opts, fn, \
        "reshape %s -> %s" % (shp(s), opts[0])


# (maker, error word or None, weight)
MAKERS = [
    (mk_binary, None, 10), (mk_binary, "broadcast", 2),
    (mk_matmul, None, 10), (mk_matmul, "dimension", 1), (mk_matmul, "broadcast", 1), (mk_matmul, "rank", 1),
    (mk_mm, None, 2), (mk_mm, "dimension", 1), (mk_mm, "rank", 1),
    (mk_bmm, None, 2), (mk_bmm, "dimension", 1), (mk_bmm, "batch", 1), (mk_bmm, "rank", 1),
    (mk_dot, None, 8), (mk_dot, "dimension", 1),
    (mk_tensordot, None, 7), (mk_tensordot, "dimension", 1), (mk_tensordot, "axis", 1),
    (mk_batch_dot, None, 12), (mk_batch_dot, "rank", 1), (mk_batch_dot, "batch", 1), (mk_batch_dot, "axis", 2),
    (mk_batch_dot, "dimension", 1),
    (mk_batch_dot_legacy, None, 4), (mk_batch_dot_legacy, "batch", 1), (mk_batch_dot_legacy, "dimension", 1),
    (mk_einsum, None, 14), (mk_einsum, "subscript", 2), (mk_einsum, "dimension", 1), (mk_einsum, "broadcast", 1),
    (mk_outer, None, 2),
    (mk_linear, None, 5), (mk_linear, "dimension", 1), (mk_linear, "rank", 1),
    (mk_softmax, None, 7), (mk_softmax, "axis", 1),
    (mk_attention, None, 9), (mk_attention, "dimension", 1), (mk_attention, "broadcast", 1),
    (mk_transpose, None, 4), (mk_transpose, "axis", 1),
    (mk_concatenate, None, 4), (mk_concatenate, "dimension", 1), (mk_concatenate, "axis", 1),
    (mk_stack, None, 3), (mk_stack, "shape", 1), (mk_stack, "axis", 1),
    (mk_expand_dims, None, 2), (mk_expand_dims, "axis", 1),
    (mk_reshape, None, 3), (mk_reshape, "size", 1),
]


def schedule(g, count):
    """every maker at least once (in shuffled order) when count allows, then weighted draws"""
    order = [MAKERS[int(i)] for i in g.rng.permutation(len(MAKERS))]
    out = order[:count]
    w = np.array([m[2] for m in MAKERS], dtype=float)
    w /= w.sum()
    while len(out) < count:
        out.append(MAKERS[int(g.rng.choice(len(MAKERS), p=w))])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=600)
    args = ap.parse_args()
    real = os.path.realpath(args.outdir)
    if os.sep + os.path.join("tests", "vectors") in real:
        sys.exit("gen_cases.py: refusing to write into tests/vectors")
    os.makedirs(args.outdir, exist_ok=True)
    g = Gen(args.seed)
    w = Writer(args.outdir)
    nerr = 0
    for maker, err, _ in schedule(g, args.count):
        for attempt in range(50):
            g.big = g.p(0.15) and attempt < 25
            name, op, ins, opts, fn, desc = maker(g, err)
            if sum(x.size for _, x in ins) > 120000:
                continue
            try:
                res, rtol, atol, extra = fn()
                got_err = None
            except CaseError as e:
                got_err = e.word
            if got_err is None and np.size(res) > 120000:
                continue
            if err is None and got_err is None:
                w.write(name, op, ins, opts, result=res, rtol=rtol, atol=atol, extra=extra, desc=desc)
                break
            if err is not None and got_err == err:
                w.write(name, op, ins, opts, error=err, desc=desc)
                nerr += 1
                break
            # the random draw did not produce the intended case (e.g. an accidental error): redraw
        else:
            sys.exit("gen_cases.py: could not make a %s case (%s)" % (maker.__name__, err))
    print("gen_cases.py: wrote %d cases (%d error cases) to %s (seed %d)" % (w.n, nerr, args.outdir, args.seed))


if __name__ == "__main__":
    main()
