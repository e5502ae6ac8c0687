"""Explicit-SIMD row sums of the LSM kernel, written as numba intrinsics (LLVM IR).

Why: the event-driven synaptic sums add a few dozen weight *rows* per step. Written as plain
numba loops (``mu[j] += w[i, j]``), LLVM vectorises each row's loop on its own: the running sums
make a round trip through memory for every row, every short loop pays runtime alias checks, and
nothing prefetches the next (random) row from L2. These intrinsics instead hold a block of
``nvec`` 512-bit vectors (16 float32 or 8 float64 lanes each) in registers while they add
``out[oc:oc+L] += w[rows[a], wc:wc+L]`` for ``a`` in ``[a0, a1)``: the block of ``out`` is
loaded once, the rows are added in list order and the result is stored once. Measured (256 in x
200 neurons, f32, ~47 active rows per step, mean and variance sums, isolated loop): ~19 ns per
row against ~33 ns for the plain loops; what remains is L2 traffic (the weights do not fit in
L1). Software prefetch of the next rows helped the isolated loop but cost ~7 % in the kernel, so
there is none.

``L = nvec * lanes``. Each addition is one IEEE add in the order written, so results equal a
plain sequential loop bit for bit (no reassociation, no fused operations). The ``pair`` variants
do the same on a second array pair (the noise variances) in the same pass; that second matrix may
be uint16 holding IEEE half-precision bits, widened exactly to the output dtype on load (half the
bytes for the variances).

Callers guarantee the bounds: every touched block lies inside its (C-contiguous) array; the
kernels pad the weight columns so that whole vectors fit (`padded_columns`). On machines without
AVX-512, LLVM splits each 512-bit vector into two 256-bit ones.
"""

from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

VECTOR_BYTES = 64  # one 512-bit vector
_I8P = ir.IntType(8).as_pointer()
_I64 = ir.IntType(64)


def lanes_of(itemsize: int) -> int:
    """Elements per vector for an element of ``itemsize`` bytes."""
    return VECTOR_BYTES // itemsize


def _ctx(context, builder, aty, val):
    """(i8* base pointer, row stride in bytes, vector type) of a C-contiguous array."""
    arr = context.make_array(aty)(context, builder, val)
    elem = context.get_value_type(aty.dtype)
    vty = ir.VectorType(elem, lanes_of(aty.dtype.bitwidth // 8))
    stride = builder.extract_value(arr.strides, 0) if aty.ndim == 2 else None
    return builder.bitcast(arr.data, _I8P), stride, vty


def _vec_ptr(builder, base, byte_off, vty):
    return builder.bitcast(builder.gep(base, [byte_off]), vty.as_pointer())


def _elem_bytes(aty) -> int:
    return aty.dtype.bitwidth // 8


def _make_gather(nvec: int, pair: bool):
    @intrinsic
    def gather(typingctx, out, out2, ocol, w, w2, wcol, rows, a0, a1):
        sig = types.none(out, out2, ocol, w, w2, wcol, rows, a0, a1)

        def codegen(context, builder, signature, args):
            t_out, t_out2, _, t_w, t_w2, _, t_rows, _, _ = signature.args
            out_v, out2_v, ocol_v, w_v, w2_v, wcol_v, rows_v, a0_v, a1_v = args
            srcs = [(out_v, t_out, w_v, t_w)] + ([(out2_v, t_out2, w2_v, t_w2)] if pair else [])
            rows_p = context.make_array(t_rows)(context, builder, rows_v).data
            plans = []
            for o_val, o_ty, m_val, m_ty in srcs:
                osz = _elem_bytes(o_ty)
                obase, _, vty = _ctx(context, builder, o_ty, o_val)
                mbase, mstride, _ = _ctx(context, builder, m_ty, m_val)
                half = m_ty.dtype == types.uint16  # IEEE half bits, widened on load
                msz = 2 if half else osz
                lanes = vty.count
                lty = ir.VectorType(ir.IntType(16) if half else vty.element, lanes)
                ob = builder.mul(ocol_v, ir.Constant(_I64, osz))
                wb = builder.mul(wcol_v, ir.Constant(_I64, msz))
                accs = []
                for v in range(nvec):
                    p = _vec_ptr(builder, obase,
                                 builder.add(ob, ir.Constant(_I64, v * lanes * osz)), vty)
                    slot = cgutils.alloca_once(builder, vty)
                    builder.store(builder.load(p, align=osz), slot)
                    accs.append((slot, p, osz))
                plans.append((mbase, mstride, wb, msz, lanes, lty, half, vty, accs))
            with cgutils.for_range_slice(builder, a0_v, a1_v, ir.Constant(_I64, 1),
                                         inc=True) as (a, _):
                row = builder.load(builder.gep(rows_p, [a]))
                for mbase, mstride, wb, msz, lanes, lty, half, vty, accs in plans:
                    roff = builder.add(builder.mul(row, mstride), wb)
                    for v, (slot, _, _) in enumerate(accs):
                        x = builder.load(_vec_ptr(
                            builder, mbase, builder.add(roff, ir.Constant(_I64, v * lanes * msz)),
                            lty), align=msz)
                        if half:
                            x = builder.fpext(builder.bitcast(
                                x, ir.VectorType(ir.HalfType(), lanes)), vty)
                        builder.store(builder.fadd(builder.load(slot), x), slot)
            for *_, accs in plans:
                for slot, p, osz in accs:
                    builder.store(builder.load(slot), p, align=osz)
            return context.get_dummy_value()

        return sig, codegen

    return gather


#: ``gather{nvec}[_pair](out, out2, ocol, w, w2, wcol, rows, a0, a1)`` (``out2``/``w2`` are
#: ignored by the single variants): ``out[ocol:ocol+L] += sum_a w[rows[a], wcol:wcol+L]``.
gather4 = _make_gather(4, False)
gather1 = _make_gather(1, False)
gather4_pair = _make_gather(4, True)
gather1_pair = _make_gather(1, True)


@njit(cache=True)
def sum_rows(out, out2, w, w2, wcol, nv, rows, a0, a1, pair):  # pragma: no cover - compiled
    """``out[:nv*L] += sum_a w[rows[a], wcol:wcol+nv*L]`` (and the same for ``out2``/``w2`` if
    ``pair``), over ``a`` in ``[a0, a1)``, ``L`` the lanes of ``out``'s dtype: blocks of four
    vectors, then single vectors."""
    lanes = 64 // out.itemsize
    v = 0
    while v < nv:
        c = v * lanes
        if v + 4 <= nv:
            if pair:
                gather4_pair(out, out2, c, w, w2, wcol + c, rows, a0, a1)
            else:
                gather4(out, out, c, w, w, wcol + c, rows, a0, a1)
            v += 4
        else:
            if pair:
                gather1_pair(out, out2, c, w, w2, wcol + c, rows, a0, a1)
            else:
                gather1(out, out, c, w, w, wcol + c, rows, a0, a1)
            v += 1
