"""Shape-specialised CPU fused evaluation: LLVM IR generated per shape, compiled by llvmlite (numba's LLVM).

Why not numba: with runtime sizes (``_cpu_fused_kernel``) every stage is its own loop nest writing a
block's (contexts, H) and (contexts, PH) intermediates to memory. numba source with the sizes as
literals (straight-line code per context, contexts left to LLVM's loop vectoriser) took 40-80 s to
compile per shape and ran slower than the generic kernel (0.14 CPU s per evaluation: LLVM spilled most
of it). Here the generator writes the vector code itself, contexts in SIMD lanes:

  for each prescriptor p, for each block of S x V contexts (S sub-blocks of V lanes):
    x_c: C lane vectors per sub-block (X stored in blocks, each transposed: one contiguous load)
    loop over hidden units, UH per iteration: h_j = tanh32(b1_j + sum_c x_c W1[c, j]); o_a += h_j W2[j, a]
    decode o -> the predictor's encoding e_a and the action cost (straight-line: A is small)
    loop over predictor units, UK per iteration: z_k = Zc[k] + sum_a e_a Wa[a, k]; ReLU; acc_k += z_k

Only x, o and the current units are live (real loops, not straight-line code: LLVM's scheduler
interleaved straight-line units breadth-first and spilled them, 0.11 CPU s); each weight is one scalar
broadcast serving S context vectors; the per-context values never touch memory, only the PH + 1
running-sum vectors do (one read-modify-write per unit per block, in L1). Blocks past the last context
are zero-padded and masked out of the sums.

Arithmetic order is fixed by this text, not by the compiler or the thread count: multiply-adds are
``llvm.fmuladd`` (fused where the CPU has FMA, as numba's ``contract``), no reassociation; context n
adds into lane n % V of its running sum in context order, the lanes are then summed in lane order.
NaN/inf propagate (NaN outcomes must rank worst).

One compiled kernel per shape and process (compiling takes about a second; bench/esp_cpu.py reports
it); threads over prescriptors are Python threads calling it through ctypes, which releases the GIL:
each prescriptor is computed start to end by one call, so results never depend on the thread count or
on how the population is split.
"""

from __future__ import annotations

import ctypes
import os
import struct
import threading
from dataclasses import dataclass
from typing import Any

# Measured at C16 H32 A4 PH64 (bench/RESULTS.md): UH 4 / UK 8 / S 2 beat 8/4/1 by ~18%, 4/16/2 and 4/8/3 tie.
UH = 4  # hidden units per loop iteration
UK = 8  # predictor units per loop iteration
S = 2  # sub-blocks of V contexts per block: each weight broadcast serves S vectors
V = 16  # lanes per vector: one AVX-512 register (LLVM splits it into 2 x 8 on AVX2, 4 x 4 on SSE)
_VT = f"<{V} x float>"
_MT = f"<{V} x i1>"
_IT = f"<{V} x i32>"
_TANH_CLAMP = 7.90531110763549805  # tanh rounds to +-1 in float32 beyond this
_TANH_P = [-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-08,
           1.48572235717979e-05, 6.37261928875436e-04, 4.89352455891786e-03]
_TANH_Q = [1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03]


@dataclass(frozen=True)
class Action:
    kind: str  # "numeric", "binary", "categorical"
    width: int
    integer: bool
    simplex: int  # simplex group id, -1 if none


@dataclass(frozen=True)
class Shape:
    """What a kernel is specialised on: sizes and the decode layout, never weights or data."""

    C: int
    H: int
    PH: int
    O: int
    actions: tuple[Action, ...]

    @property
    def A(self) -> int:
        return sum(a.width for a in self.actions)

    @property
    def D(self) -> int:
        return self.C * self.H + self.H + self.H * self.A + self.A


def shape_of(problem: Any) -> Shape:
    lay = problem.layout
    acts = []
    for a in lay.actions:
        g = getattr(a, "simplex", None)
        acts.append(Action(a.kind, int(a.width), bool(getattr(a, "integer", False)), -1 if g is None else int(g)))
    return Shape(int(lay.n_in), int(lay.hidden), int(problem.Zc.shape[1]), int(problem.W2.shape[1]), tuple(acts))


def _fc(x: float) -> str:
    """A float32 constant as LLVM IR spells it (the double with the float's exact value, in hex)."""
    import numpy as np  # noqa: PLC0415

    return "0x" + struct.pack(">d", float(np.float32(x))).hex().upper()


def _splat(x: float) -> str:
    return f"splat (float {_fc(x)})"


class _Emitter:
    """SSA text: each op returns its result's name."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.n = 0

    def op(self, text: str) -> str:
        self.n += 1
        name = f"%v{self.n}"
        self.lines.append(f"  {name} = {text}")
        return name

    def raw(self, text: str) -> None:
        self.lines.append(text)

    def fma(self, a: str, b: str, c: str) -> str:
        return self.op(f"call {_VT} @llvm.fmuladd.v{V}f32({_VT} {a}, {_VT} {b}, {_VT} {c})")

    def at(self, base: str, idx: int | str, ty: str = "float") -> str:
        """The address of element idx (a constant or an i64 value) of base."""
        return self.op(f"getelementptr inbounds {ty}, ptr {base}, i64 {idx}")

    def scalar(self, base: str, idx: int | str) -> str:
        return self.op(f"load float, ptr {self.at(base, idx)}, align 4")

    def vload(self, ptr: str, align: int = 4) -> str:
        return self.op(f"load {_VT}, ptr {ptr}, align {align}")

    def bcast(self, s: str) -> str:
        v = self.op(f"insertelement {_VT} poison, float {s}, i64 0")
        return self.op(f"shufflevector {_VT} {v}, {_VT} poison, <{V} x i32> zeroinitializer")

    def bscalar(self, base: str, idx: int) -> str:
        return self.bcast(self.scalar(base, idx))

    def select(self, m: str, a: str, b: str) -> str:
        return self.op(f"select {_MT} {m}, {_VT} {a}, {_VT} {b}")

    def tanh(self, x: str) -> str:
        """Eigen's float32 rational tanh, as _cpu_fused_kernel.tanh32 (NaN passes the clamps)."""
        hi = self.op(f"fcmp ogt {_VT} {x}, {_splat(_TANH_CLAMP)}")
        x = self.select(hi, _splat(_TANH_CLAMP), x)
        lo = self.op(f"fcmp olt {_VT} {x}, {_splat(-_TANH_CLAMP)}")
        x = self.select(lo, _splat(-_TANH_CLAMP), x)
        x2 = self.op(f"fmul {_VT} {x}, {x}")
        p = _splat(_TANH_P[0])
        for c in _TANH_P[1:]:
            p = self.fma(p, x2, _splat(c))
        p = self.op(f"fmul {_VT} {p}, {x}")
        q = _splat(_TANH_Q[0])
        for c in _TANH_Q[1:]:
            q = self.fma(q, x2, _splat(c))
        return self.op(f"fdiv {_VT} {p}, {q}")

    def tanh_many(self, xs: list[str]) -> list[str]:
        """tanh of each of xs, emitted step by step across them (independent chains side by side)."""
        saved, self.lines = self.lines, []
        parts = []
        for x in xs:
            self.tanh(x)
            parts.append(self.lines)
            self.lines = []
        self.lines = saved
        for step in zip(*parts):
            self.lines.extend(step)
        return [p[-1].split(" = ")[0].strip() for p in parts]


def ir_text(s: Shape) -> str:
    """LLVM IR of ``void esp_fused(theta, p0, p1, XB, ZB, n, Wa, dec, costs, W2, b2, out)``.

    theta (P, D) genomes [W1 (C,H), b1 (H), W2 (H,A), b2 (A)] float32; rows p0 <= p < p1 are evaluated.
    XB (nblk, C, V) and ZB (nblk, PH, V): the contexts and the predictor's context half (bias included)
    in sub-blocks of V contexts, each transposed (a lane vector is one contiguous load; a block's loads
    stay within a page or two: with (C, N) rows instead, every block touched C + PH pages and TLB
    misses cost 40%), zero-padded from n to nblk * V contexts, nblk a multiple of S. Wa (A, PH) the
    predictor's action rows, W2 (PH, O) and b2 (O) its last layer; dec (n_actions, 5) per action
    [lo, hi - lo, mean, 1 / std, simplex total]; costs (A,). out (P, O + 1): the mean of each outcome,
    then of the action cost.
    """
    e = _Emitter()
    C, H, A, PH, O = s.C, s.H, s.A, s.PH, s.O
    w1, b1, w2, bo = 0, C * H, C * H + H, C * H + H + H * A
    zero = "zeroinitializer"
    e.raw(f"declare {_VT} @llvm.fmuladd.v{V}f32({_VT}, {_VT}, {_VT})")
    e.raw("declare float @llvm.fmuladd.f32(float, float, float)")
    e.raw(f"declare {_VT} @llvm.rint.v{V}f32({_VT})")
    e.raw(f"declare {_VT} @llvm.exp.v{V}f32({_VT})")
    e.raw("define void @esp_fused(ptr noalias readonly %theta, i64 %p0, i64 %p1, ptr noalias readonly %XB, "
          "ptr noalias readonly %ZB, i64 %n, ptr noalias readonly %Wa, ptr noalias readonly %dec, "
          "ptr noalias readonly %costs, ptr noalias readonly %W2, ptr noalias readonly %b2, "
          "ptr noalias %out) nounwind {")
    e.raw("entry:")
    # The running sums: PH + 1 lane vectors (the last one the action cost), reset per prescriptor.
    e.raw(f"  %acc = alloca [{PH + 1} x {_VT}], align 64")
    nf = e.op("sitofp i64 %n to float")
    inv_n = e.op(f"fdiv float {_fc(1.0)}, {nf}")
    iota = "<" + ", ".join(f"i32 {i}" for i in range(V)) + ">"
    start = e.op("icmp slt i64 %p0, %p1")
    e.raw(f"  br i1 {start}, label %pre, label %done")

    e.raw("pre:")  # one prescriptor: its genome, zeroed sums
    e.raw("  %p = phi i64 [ %p0, %entry ], [ %pnext, %reduce ]")
    g = e.at("%theta", e.op(f"mul i64 %p, {s.D}"))
    e.raw(f"  call void @llvm.memset.p0.i64(ptr align 64 %acc, i8 0, i64 {(PH + 1) * V * 4}, i1 false)")
    e.raw(f"  br i1 {e.op('icmp sgt i64 %n, 0')}, label %block, label %reduce")  # no contexts: 0 / 0

    e.raw("block:")  # S sub-blocks of V contexts from n0; lanes at or past n are masked out of the sums
    e.raw("  %n0 = phi i64 [ 0, %pre ], [ %n0next, %kdone ]")
    xblock = e.at("%XB", e.op(f"mul i64 %n0, {C}"))
    zblock = e.at("%ZB", e.op(f"mul i64 %n0, {PH}"))
    masks, xs, zblocks = [], [], []
    for b in range(S):
        start_b = e.op(f"add i64 %n0, {b * V}")
        left = e.op(f"trunc i64 {e.op(f'sub i64 %n, {start_b}')} to i32")
        left1 = e.op(f"insertelement {_IT} poison, i32 {left}, i64 0")
        leftv = e.op(f"shufflevector {_IT} {left1}, {_IT} poison, <{V} x i32> zeroinitializer")
        masks.append(e.op(f"icmp slt {_IT} {iota}, {leftv}"))
        xs.append([e.vload(e.at(xblock, (b * C + c) * V)) for c in range(C)])
        zblocks.append(e.at(zblock, b * PH * V))
    out0 = [e.bscalar(g, bo + a) for a in range(A)]

    # Hidden units UH at a time per iteration, for each sub-block (independent multiply-add chains the
    # CPU overlaps; one unit per iteration left it waiting on a 16-deep chain; each weight broadcast
    # serves S context vectors): h_j = tanh(b1_j + sum_c x_c W1[c, j]), then o_a += h_j W2[j, a]. A loop,
    # not straight-line code: only x, o and the current units are live (LLVM's scheduler interleaved
    # straight-line units breadth-first and spilled them).
    hloop = H // UH * UH
    outs = [list(out0) for _ in range(S)]
    if hloop:
        e.raw("  br label %hidden")
        e.raw("hidden:")
        e.raw("  %j = phi i64 [ 0, %block ], [ %jnext, %hidden ]")
        phis = [[f"%o{b}_{a}" for a in range(A)] for b in range(S)]
        pend = len(e.lines)
        nxt = _hidden(e, s, g, xs, "%j", list(range(UH)), phis)
        e.lines[pend:pend] = [f"  {phis[b][a]} = phi {_VT} [ {out0[a]}, %block ], [ {nxt[b][a]}, %hidden ]"
                              for b in range(S) for a in range(A)]
        e.raw(f"  %jnext = add i64 %j, {UH}")
        e.raw(f"  br i1 {e.op(f'icmp slt i64 %jnext, {hloop}')}, label %hidden, label %decode")
        e.raw("decode:")
        outs = [[e.op(f"phi {_VT} [ {nxt[b][a]}, %hidden ]") for a in range(A)] for b in range(S)]
    if hloop < H:
        outs = _hidden(e, s, g, xs, 0, list(range(hloop, H)), outs)
    encs = []
    cptr = e.at("%acc", PH, _VT)
    csum = e.vload(cptr, 64)
    for b in range(S):  # sub-blocks in context order
        enc, cost = _decode(e, s, outs[b])
        encs.append(enc)
        csum = e.op(f"fadd {_VT} {csum}, {e.select(masks[b], cost, zero)}")
    e.raw(f"  store {_VT} {csum}, ptr {cptr}, align 64")

    # Predictor units UK at a time: z_k = Zc[k] + sum_a e_a Wa[a, k]; ReLU (NaN propagates, as
    # np.maximum's); masked lanes add 0.
    kloop = PH // UK * UK
    here = "decode" if hloop else "block"
    if kloop:
        e.raw("  br label %pred")
        e.raw("pred:")
        e.raw(f"  %k = phi i64 [ 0, %{here} ], [ %knext, %pred ]")
        _predictor(e, s, zblocks, encs, masks, "%k", list(range(UK)))
        e.raw(f"  %knext = add i64 %k, {UK}")
        e.raw(f"  br i1 {e.op(f'icmp slt i64 %knext, {kloop}')}, label %pred, label %kdone")
    else:
        e.raw("  br label %kdone")
    e.raw("kdone:")
    if kloop < PH:
        _predictor(e, s, zblocks, encs, masks, 0, list(range(kloop, PH)))
    e.raw(f"  %n0next = add i64 %n0, {S * V}")
    e.raw(f"  br i1 {e.op('icmp slt i64 %n0next, %n')}, label %block, label %reduce")

    e.raw("reduce:")  # lanes summed in lane order; then the predictor's (linear) last layer on the mean
    sums = []
    for k in range(PH + 1):
        fin = e.vload(e.at("%acc", k, _VT), 64)
        tot = e.op(f"extractelement {_VT} {fin}, i64 0")
        for i in range(1, V):
            tot = e.op(f"fadd float {tot}, {e.op(f'extractelement {_VT} {fin}, i64 {i}')}")
        sums.append(e.op(f"fmul float {tot}, {inv_n}"))
    optr = e.at("%out", e.op(f"mul i64 %p, {O + 1}"))
    for o in range(O):
        y = _fc(0.0)
        for k in range(PH):
            y = e.op(f"call float @llvm.fmuladd.f32(float {sums[k]}, float {e.scalar('%W2', k * O + o)}, float {y})")
        y = e.op(f"fadd float {y}, {e.scalar('%b2', o)}")
        e.raw(f"  store float {y}, ptr {e.at(optr, o)}, align 4")
    e.raw(f"  store float {sums[PH]}, ptr {e.at(optr, O)}, align 4")
    e.raw("  %pnext = add i64 %p, 1")
    e.raw(f"  br i1 {e.op('icmp slt i64 %pnext, %p1')}, label %pre, label %done")
    e.raw("done:")
    e.raw("  ret void")
    e.raw("}")
    e.raw("declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)")
    return "\n".join(e.lines) + "\n"


def _ix(e: _Emitter, base: int | str, off: int) -> int | str:
    """base + off as an i64 operand: a constant when base is one."""
    return base + off if isinstance(base, int) else e.op(f"add i64 {base}, {off}")


def _hidden(e: _Emitter, s: Shape, g: str, xs: list[list[str]], j: int | str, us: list[int],
            outs: list[list[str]]) -> list[list[str]]:
    """Hidden units j + u (u in us) for every sub-block's contexts xs[b], their steps interleaved;
    returns each sub-block's outputs with them added."""
    C, H, A = s.C, s.H, s.A
    b1, w2 = C * H, C * H + H
    bias = [e.bscalar(g, _ix(e, j, b1 + u)) for u in us]
    h = [[bu for bu in bias] for _ in xs]
    for c in range(C):
        w = [e.bscalar(g, _ix(e, j, c * H + u)) for u in us]
        h = [[e.fma(x[c], wu, hu) for wu, hu in zip(w, hb)] for x, hb in zip(xs, h)]
    t = e.tanh_many([v for hb in h for v in hb])
    t = [t[b * len(us):(b + 1) * len(us)] for b in range(len(xs))]
    jA = j * A if isinstance(j, int) else e.op(f"mul i64 {j}, {A}")
    outs = [list(ob) for ob in outs]
    for i, u in enumerate(us):
        for a in range(A):
            w = e.bscalar(g, _ix(e, jA, w2 + u * A + a))
            for b in range(len(xs)):
                outs[b][a] = e.fma(t[b][i], w, outs[b][a])
    return outs


def _predictor(e: _Emitter, s: Shape, zblocks: list[str], encs: list[list[str]], masks: list[str],
               k: int | str, us: list[int]) -> None:
    """Predictor units k + u (u in us): z = Zc + sum_a e_a Wa[a, k], ReLU, added to the running sums
    (sub-block by sub-block, in context order)."""
    PH, zero = s.PH, "zeroinitializer"
    kk = [_ix(e, k, u) for u in us]
    z = [[e.vload(e.at(zb, ki * V if isinstance(ki, int) else e.op(f"mul i64 {ki}, {V}"))) for ki in kk]
         for zb in zblocks]
    for a in range(s.A):
        w = [e.bscalar("%Wa", _ix(e, ki, a * PH)) for ki in kk]
        z = [[e.fma(enc[a], wi, zi) for wi, zi in zip(w, zb)] for enc, zb in zip(encs, z)]
    for i, ki in enumerate(kk):
        aptr = e.at("%acc", ki, _VT)
        total = e.vload(aptr, 64)
        for b in range(len(zblocks)):
            nonneg = e.op(f"fcmp uge {_VT} {z[b][i]}, {zero}")
            r = e.select(e.op(f"and {_MT} {masks[b]}, {nonneg}"), z[b][i], zero)
            total = e.op(f"fadd {_VT} {total}, {r}")
        e.raw(f"  store {_VT} {total}, ptr {aptr}, align 64")


def _decode(e: _Emitter, s: Shape, out: list[str]) -> tuple[list[str], str]:
    """Raw outputs -> the predictor's action encoding and the action cost, as prescriptor.decode."""
    offs, o = [], 0
    for a in s.actions:
        offs.append(o)
        o += a.width
    enc: list[str] = [""] * s.A
    cost = "zeroinitializer"
    groups: dict[int, list[int]] = {}
    for j, a in enumerate(s.actions):
        if a.simplex >= 0:
            groups.setdefault(a.simplex, []).append(j)
    share: dict[int, str] = {}
    for members in groups.values():  # softmax of the group's outputs (max first) times its total
        mx = out[offs[members[0]]]
        for i in members[1:]:
            gt = e.op(f"fcmp ogt {_VT} {out[offs[i]]}, {mx}")
            mx = e.select(gt, out[offs[i]], mx)
        q = {i: e.op(f"call {_VT} @llvm.exp.v{V}f32({_VT} {e.op(f'fsub {_VT} {out[offs[i]]}, {mx}')})")
             for i in members}
        tot = q[members[0]]
        for i in members[1:]:
            tot = e.op(f"fadd {_VT} {tot}, {q[i]}")
        sc = e.op(f"fdiv {_VT} {e.bscalar('%dec', members[0] * 5 + 4)}, {tot}")
        share.update({i: e.op(f"fmul {_VT} {q[i]}, {sc}") for i in members})
    one = _splat(1.0)
    for j, a in enumerate(s.actions):
        o = offs[j]
        if a.kind == "categorical":  # first maximum (first NaN, as np.argmax), one-hot
            bv, bi = out[o], "zeroinitializer"
            for i in range(1, a.width):
                x = out[o + i]
                gt = e.op(f"fcmp ogt {_VT} {x}, {bv}")
                xnan = e.op(f"fcmp uno {_VT} {x}, {x}")
                bnum = e.op(f"fcmp ord {_VT} {bv}, {bv}")
                tk = e.op(f"or {_MT} {gt}, {e.op(f'and {_MT} {xnan}, {bnum}')}")
                bv = e.select(tk, x, bv)
                bi = e.op(f"select {_MT} {tk}, {_IT} splat (i32 {i}), {_IT} {bi}")
            for i in range(a.width):
                hit = e.op(f"icmp eq {_IT} {bi}, splat (i32 {i})")
                enc[o + i] = e.select(hit, one, "zeroinitializer")
                cost = e.op(f"fadd {_VT} {cost}, {e.select(hit, e.bscalar('%costs', o + i), 'zeroinitializer')}")
        elif a.kind == "binary":
            pos = e.op(f"fcmp ogt {_VT} {out[o]}, zeroinitializer")
            enc[o] = e.select(pos, one, "zeroinitializer")
            cost = e.fma(e.bscalar("%costs", o), enc[o], cost)
        else:  # numeric: sigmoid into [lo, hi] (rounded half to even if integer), or a simplex share
            if j in share:
                v = share[j]
            else:
                half = _splat(0.5)
                t = e.tanh(e.op(f"fmul {_VT} {out[o]}, {half}"))
                sig = e.fma(t, half, half)
                v = e.fma(e.bscalar("%dec", j * 5 + 1), sig, e.bscalar("%dec", j * 5))
                if a.integer:
                    v = e.op(f"call {_VT} @llvm.rint.v{V}f32({_VT} {v})")
            centred = e.op(f"fsub {_VT} {v}, {e.bscalar('%dec', j * 5 + 2)}")
            enc[o] = e.op(f"fmul {_VT} {centred}, {e.bscalar('%dec', j * 5 + 3)}")
            cost = e.fma(e.bscalar("%costs", o), v, cost)
    return enc, cost


_lock = threading.Lock()
_kernels: dict[Shape, Any] = {}
_engines: list[Any] = []  # compiled code lives as long as its engine: keep them all
compile_seconds: dict[Shape, float] = {}


def kernel(s: Shape) -> Any:
    """The compiled ``esp_fused`` for shape s as a ctypes function (compiled once per process)."""
    k = _kernels.get(s)
    if k is None:
        with _lock:
            k = _kernels.get(s)
            if k is None:
                k = _compile(s)
                _kernels[s] = k
    return k


def _compile(s: Shape) -> Any:
    import time  # noqa: PLC0415

    import llvmlite.binding as llvm  # noqa: PLC0415 - imported only when the fused path runs

    t0 = time.perf_counter()
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    tm = llvm.Target.from_default_triple().create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=3, jit=True)
    mod = llvm.parse_assembly(ir_text(s))
    mod.verify()
    pb = llvm.create_pass_builder(tm, llvm.create_pipeline_tuning_options(speed_level=3))
    pb.getModulePassManager().run(mod, pb)
    engine = llvm.create_mcjit_compiler(mod, tm)
    engine.finalize_object()
    _engines.append(engine)
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    proto = ctypes.CFUNCTYPE(None, ptr, i64, i64, ptr, ptr, i64, ptr, ptr, ptr, ptr, ptr, ptr)
    fn = proto(engine.get_function_address("esp_fused"))
    compile_seconds[s] = time.perf_counter() - t0
    return fn


def tables(problem: Any) -> dict[str, Any]:
    """The kernel's inputs that depend on the problem only (built once per Problem by cpu_fused)."""
    import numpy as np  # noqa: PLC0415

    f32 = np.float32
    s = shape_of(problem)
    X = np.asarray(problem.X, dtype=f32)
    N = X.shape[0]
    nblk = -(-N // (S * V)) * S  # whole blocks of S sub-blocks

    def blocked(M: Any) -> Any:  # (N, k) -> (nblk, k, V), zero-padded to nblk * V contexts
        padded = np.zeros((nblk * V, M.shape[1]), f32)
        padded[:N] = M
        return np.ascontiguousarray(padded.reshape(nblk, V, M.shape[1]).transpose(0, 2, 1))

    dec = np.zeros((len(s.actions), 5), f32)
    for j, a in enumerate(problem.layout.actions):
        if a.kind == "numeric":
            dec[j] = [a.lo, f32(a.hi) - f32(a.lo), a.mean, f32(1.0) / f32(a.std), getattr(a, "total", 0.0) or 0.0]
    return {"shape": s, "n": N, "XB": blocked(X), "ZB": blocked(np.asarray(problem.Zc, dtype=f32)),
            "Wa": np.ascontiguousarray(problem.Wa, dtype=f32), "dec": dec,
            "costs": np.ascontiguousarray(problem.costs, dtype=f32),
            "W2": np.ascontiguousarray(problem.W2, dtype=f32), "b2": np.ascontiguousarray(problem.b2, dtype=f32)}


_pool: Any = None
_pool_size = 0


def _forget_pool() -> None:
    """In a forked child the parent's pool threads do not exist: start a new pool when needed."""
    global _pool, _pool_size
    _pool, _pool_size = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def outcome_means(t: dict[str, Any], theta: Any, threads: int) -> Any:
    """(P, O + 1) float32 for genomes theta (P, D), over up to ``threads`` threads (contiguous ranges of
    prescriptors; each prescriptor is one call's work from start to end, so the split never shows)."""
    import numpy as np  # noqa: PLC0415

    global _pool, _pool_size
    s = t["shape"]
    theta = np.ascontiguousarray(theta, dtype=np.float32)
    if theta.ndim != 2 or theta.shape[1] != s.D:
        raise ValueError(f"theta has shape {theta.shape}, the layout {s.D} genes per prescriptor")
    P = theta.shape[0]
    out = np.empty((P, s.O + 1), np.float32)
    fn = kernel(s)
    args = [a.ctypes.data for a in (t["XB"], t["ZB"])] + [t["n"]] + [
        t[k].ctypes.data for k in ("Wa", "dec", "costs", "W2", "b2")] + [out.ctypes.data]

    def run(p0: int, p1: int) -> None:
        fn(theta.ctypes.data, p0, p1, *args)

    T = max(1, min(int(threads), P))
    if T == 1:
        run(0, P)
        return out
    with _lock:
        if _pool is None or _pool_size != T:
            from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

            if _pool is not None:
                _pool.shutdown(wait=True)
            _pool, _pool_size = ThreadPoolExecutor(max_workers=T, thread_name_prefix="leafctl-fused"), T
        pool = _pool
    cuts = [P * i // T for i in range(T + 1)]
    for f in [pool.submit(run, a, b) for a, b in zip(cuts[:-1], cuts[1:])]:
        f.result()
    return out
