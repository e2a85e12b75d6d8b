"""The generic numba kernel of ``leafctl.esp.cpu_fused`` (kernel="numba": the baseline the jit kernel
replaced, which bench/esp_cpu.py measures; importing this module imports numba).

Inner loops are written over one contiguous axis with the loop variable as the only index, which is
what LLVM's loop vectoriser turns into SIMD code. ``error_model="numpy"`` removes the zero-division
checks that would stop it (a division by zero gives inf/NaN, as in NumPy); ``fastmath`` allows only
``contract`` (fused multiply-add), never reassociation, so each sum is taken in source order.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

_F32 = np.float32
_CLAMP = _F32(7.90531110763549805)  # tanh rounds to +-1 in float32 beyond this
_HALF = _F32(0.5)
_ZERO = _F32(0.0)
_ONE = _F32(1.0)


@njit(inline="always", fastmath={"contract"}, error_model="numpy")
def tanh32(x):
    """float32 tanh, max abs error 3e-7 over the line: Eigen's rational approximation (odd degree-13 /
    even degree-6). Arithmetic only, so a loop over it vectorises; NaN passes through."""
    x = _CLAMP if x > _CLAMP else x
    x = -_CLAMP if x < -_CLAMP else x
    x2 = x * x
    p = _F32(-2.76076847742355e-16)
    p = p * x2 + _F32(2.00018790482477e-13)
    p = p * x2 + _F32(-8.60467152213735e-11)
    p = p * x2 + _F32(5.12229709037114e-08)
    p = p * x2 + _F32(1.48572235717979e-05)
    p = p * x2 + _F32(6.37261928875436e-04)
    p = p * x2 + _F32(4.89352455891786e-03)
    p = p * x
    q = _F32(1.19825839466702e-06)
    q = q * x2 + _F32(1.18534705686654e-04)
    q = q * x2 + _F32(2.26843463243900e-03)
    q = q * x2 + _F32(4.89352518554385e-03)
    return p / q


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def tanh_array(x):
    """tanh32 over a 1-D float32 array (for tests of the approximation itself)."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = tanh32(x[i])
    return out


@njit(fastmath={"contract"}, error_model="numpy")
def _decode_block(AT, nb, costs, kind, off, width, integer, af, simplex, stot, shares, cvec, best, bv):
    """AT (A, >=nb) raw outputs -> the predictor's action encoding, in place; the action cost of each
    context is added to cvec[:nb]. Mirrors prescriptor.decode, action by action in the same order."""
    n_act = kind.shape[0]
    # Simplex groups first: their shares read the raw outputs of all members.
    for j in range(n_act):
        g = simplex[j]
        if g < 0:
            continue
        first = True
        for i in range(j):
            if simplex[i] == g:
                first = False
        if not first:
            continue
        for n in range(nb):  # max over the group's outputs (subtracted so exp cannot overflow)
            bv[n] = AT[off[j], n]
        for i in range(j + 1, n_act):
            if simplex[i] == g:
                r = AT[off[i]]
                for n in range(nb):
                    bv[n] = r[n] if r[n] > bv[n] else bv[n]
        for n in range(nb):
            cvec_tmp = _ZERO
            for i in range(j, n_act):
                if simplex[i] == g:
                    e = _F32(math.exp(AT[off[i], n] - bv[n]))
                    shares[i, n] = e
                    cvec_tmp += e
            scale = _F32(stot[j]) / cvec_tmp
            for i in range(j, n_act):
                if simplex[i] == g:
                    shares[i, n] = shares[i, n] * scale
    for j in range(n_act):
        o = off[j]
        if kind[j] == 2:  # categorical: first maximum (first NaN, as np.argmax), one-hot
            w = width[j]
            r0 = AT[o]
            for n in range(nb):
                bv[n] = r0[n]
                best[n] = 0
            for i in range(1, w):
                r = AT[o + i]
                for n in range(nb):
                    x = r[n]
                    b = bv[n]
                    take = (x > b) or (x != x and b == b)
                    bv[n] = x if take else b
                    best[n] = i if take else best[n]
            for i in range(w):
                r = AT[o + i]
                c = costs[o + i]
                for n in range(nb):
                    hit = best[n] == i
                    r[n] = _ONE if hit else _ZERO
                    cvec[n] += c if hit else _ZERO
        elif kind[j] == 1:  # binary: output > 0
            r = AT[o]
            c = costs[o]
            for n in range(nb):
                v = _ONE if r[n] > _ZERO else _ZERO
                r[n] = v
                cvec[n] += c * v
        else:  # numeric: sigmoid into [lo, hi] (rounded half to even if integer), or a simplex share
            r = AT[o]
            c = costs[o]
            lo, span, mean, sd = af[j, 0], af[j, 1] - af[j, 0], af[j, 2], af[j, 3]
            if simplex[j] >= 0:
                s = shares[j]
                for n in range(nb):
                    v = s[n]
                    r[n] = (v - mean) / sd
                    cvec[n] += c * v
            elif integer[j]:
                for n in range(nb):
                    v = np.rint(lo + span * (_HALF + _HALF * tanh32(_HALF * r[n])))
                    r[n] = (v - mean) / sd
                    cvec[n] += c * v
            else:
                for n in range(nb):
                    v = lo + span * (_HALF + _HALF * tanh32(_HALF * r[n]))
                    r[n] = (v - mean) / sd
                    cvec[n] += c * v


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _prescriptor(g, Xa, Zc, Wa, W2, b2, costs, kind, off, width, integer, af, simplex, stot,
                 C, H, A, block, row):
    """One prescriptor (genome g) over every context: row[:O] the outcome means, row[O] the mean cost."""
    N = Xa.shape[0]
    PH = Zc.shape[1]
    O = W2.shape[1]
    n_act = kind.shape[0]
    inv_n = _F32(1.0) / _F32(N)
    W1b = np.ascontiguousarray(g[:(C + 1) * H]).reshape(C + 1, H)  # W1 stacked on b1
    W2T = np.ascontiguousarray(g[(C + 1) * H:(C + 1) * H + H * A].reshape(H, A).T)  # (A, H)
    bo = g[(C + 1) * H + H * A:(C + 1) * H + H * A + A]
    s = np.zeros(PH, np.float32)
    sb = np.zeros(PH, np.float32)
    cvec = np.zeros(block, np.float32)
    best = np.zeros(block, np.int64)
    bv = np.zeros(block, np.float32)
    shares = np.zeros((n_act, block), np.float32)
    # Reused by every full block (the last, partial one gets its own): no allocation per block.
    Hd_full = np.empty((block, H), np.float32)
    AT_full = np.empty((A, block), np.float32)
    Z_full = np.empty((block, PH), np.float32)
    for n0 in range(0, N, block):
        nb = min(block, N - n0)
        full = nb == block
        Hd = Hd_full if full else np.empty((nb, H), np.float32)
        np.dot(Xa[n0:n0 + nb], W1b, Hd)  # (nb, H) = X @ W1 + b1
        Hf = Hd.ravel()
        for i in range(nb * H):
            Hf[i] = tanh32(Hf[i])
        AT = AT_full if full else np.empty((A, nb), np.float32)
        np.dot(W2T, Hd.T, AT)  # (A, nb): decoding runs along contexts
        for k in range(A):
            r = AT[k]
            b = bo[k]
            for n in range(nb):
                r[n] = r[n] + b
        _decode_block(AT, nb, costs, kind, off, width, integer, af, simplex, stot, shares, cvec, best, bv)
        Z = Z_full if full else np.empty((nb, PH), np.float32)
        np.dot(AT.T, Wa, Z)  # (nb, PH) action half of the predictor's first layer
        zc = Zc[n0:n0 + nb]
        sb[:] = _ZERO  # this block's sum first, then into the total: rounding grows with
        for n in range(nb):  # block + N / block terms, not with N
            z = Z[n]
            c = zc[n]
            for j in range(PH):
                v = z[j] + c[j]
                sb[j] += _ZERO if v < _ZERO else v  # ReLU; NaN propagates, as np.maximum's
        for j in range(PH):
            s[j] += sb[j]
    for o in range(O):
        y = _ZERO
        for j in range(PH):
            y += (s[j] * inv_n) * W2[j, o]
        row[o] = y + b2[o]
    total = _ZERO
    for n in range(block):
        total += cvec[n]
    row[O] = total * inv_n


@njit(parallel=True, cache=True, fastmath={"contract"}, error_model="numpy")
def outcome_means(theta, Xa, Zc, Wa, W2, b2, costs, kind, off, width, integer, af, simplex, stot,
                  C, H, A, block):
    """(P, O+1): per prescriptor the mean over contexts of each predicted outcome, then of action cost.

    theta (P, D) genomes [W1 (C,H), b1 (H), W2 (H,A), b2 (A)]; Xa (N, C+1) contexts with a ones column;
    Zc (N, PH) the predictor's context half (bias included); Wa (A, PH) its action rows; W2 (PH, O),
    b2 (O) its last layer; action tables as cpu_fused._tables builds them. One thread per prescriptor
    (prange): each is computed start to end in a fixed order, whatever the thread count.
    """
    P = theta.shape[0]
    out = np.empty((P, W2.shape[1] + 1), np.float32)
    for p in prange(P):
        _prescriptor(theta[p], Xa, Zc, Wa, W2, b2, costs, kind, off, width, integer, af, simplex, stot,
                     C, H, A, block, out[p])
    return out
