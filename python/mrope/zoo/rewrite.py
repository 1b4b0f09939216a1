"""Metamorphic rewriter: change how an ONNX model spells its RoPE, never what it computes.

Every rewrite kind below replaces a few nodes by others that compute the same
tensor with the same IEEE operations (or none: pure data movement), so a
rewritten model must give ONNX Runtime's outputs of the original bit for bit
(:func:`check_equal` checks it with graph optimizations off; tolerance
:data:`EQUAL_TOL`).  A rewrite that changes an output is a bug of this module.

Kinds (:data:`KINDS`):

=================  ==========================================================
identity           an Identity inserted on one edge
cast_same          a Cast to the value's own type inserted on one edge
commute            the two operands of a Mul or Add swapped
unsqueeze_reshape  Unsqueeze -> Reshape (constant target with 0 / -1 / 1, or
                   built from Shape + Gather when two dims are unknown)
gather_slice       Gather of one constant index -> Slice (+ Squeeze for a
                   scalar index)
split_slices       Split -> one Slice per output
concat_tile        Concat(x, x, ...) -> Tile
init_constant      an initializer -> a Constant node, or a Constant node -> an
                   initializer
rotate_half_sign   Concat(Neg(x2), x1) -> Concat(x2, x1) * [-1.., +1..]
rotate_half_sub    x*cos + Concat(Neg(x2), x1)*sin -> Concat(x1*c1 - x2*s1,
                   x2*c2 + x1*s2) (c1/c2, s1/s2: halves of the tables)
sub_neg            Add(a, Neg(b)) -> Sub(a, b), Sub(a, b) -> Add(a, Neg(b)), or
                   Add(a, b) -> Sub(a, Neg(b))
outer_product      an outer product between Einsum "i,j->ij", MatMul over a
                   size-1 inner dim and broadcast Mul
flatten_reshape    Flatten(axis 0/1) -> Reshape, Reshape(x, [0, -1]) -> Flatten
cast_move          a Cast moved across the data-movement op it feeds (or that
                   feeds it): Unsqueeze, Squeeze, Reshape, Transpose, Expand,
                   Flatten, Tile, Slice, Gather
slices_split       Slices of one tensor that tile its last axis (rotate_half's
                   x[..., :h], x[..., h:]) -> one Split (split_slices reversed)
fused_input        an Identity and a Cast to the value's own type inserted on
                   one input of a fused rotary op (com.microsoft.RotaryEmbedding
                   / MRotaryEmbedding, RotaryEmbedding-23, GroupQueryAttention)
=================  ==========================================================

A Cast's ``to`` is the value's element type found from its producers
(:mod:`mrope.zoo.elemtype`: graph inputs, initializers, each op's typing rule),
else the probe's: shape inference leaves everything a contrib op reads or
writes untyped, so a missing ``value_info`` never decides it.

A rewrite is applied at one random applicable place (``random.Random(seed)``)
inside the model's RoPE region (:func:`rope_region`: everything the Cos/Sin and
fused rotary ops read, and the rotation nodes after them), so it changes the
spelling the analysis looks at rather than the MLP.  :func:`rewrite` applies
one kind or a random combination.  Shapes and types come from running the
model once in ONNX Runtime with every value as an output (:func:`probe`).

    from mrope.zoo import rewrite
    new, applied = rewrite.rewrite(model, ["identity", "gather_slice"], feeds, seed=3)
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from . import elemtype

INT64_MAX = 2 ** 63 - 1
# Exact rewrites give bit-identical outputs (observed: 0 on every zoo model and kind).
# 1e-6 absolute leaves room only for a kernel choice that depends on the spelling
# (e.g. ORT's Einsum vs MatMul paths) on O(1) activations, nothing a wrong rewrite
# could hide under: a misplaced channel or sign moves outputs by 1e-2 or more.
EQUAL_TOL = 1e-6

MOVE_OPS = {"Unsqueeze", "Squeeze", "Reshape", "Transpose", "Expand", "Flatten", "Tile", "Slice", "Gather"}
ROTARY_OPS = {"RotaryEmbedding", "MRotaryEmbedding", "GroupQueryAttention"}
_NP2ONNX = {np.dtype(k): v for k, v in {
    np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE, np.float16: TensorProto.FLOAT16,
    np.int64: TensorProto.INT64, np.int32: TensorProto.INT32, np.int8: TensorProto.INT8,
    np.uint8: TensorProto.UINT8, np.bool_: TensorProto.BOOL}.items()}

_ONNX2NP = {v: k for k, v in _NP2ONNX.items()}


class NotApplicable(Exception):
    """The kind has no place to apply in this model."""


# --------------------------------------------------------------------------
# Graph helpers
# --------------------------------------------------------------------------

class G:
    """Maps of one graph, rebuilt after every edit (models are small)."""

    def __init__(self, model: onnx.ModelProto, info: Dict[str, tuple]):
        self.m = model
        self.g = model.graph
        self.info = info
        self.counter = 0
        self.refresh()

    def refresh(self):
        self.producer = {o: n for n in self.g.node for o in n.output if o}
        self.consumers: Dict[str, List[Tuple[onnx.NodeProto, int]]] = {}
        for n in self.g.node:
            for i, x in enumerate(n.input):
                if x:
                    self.consumers.setdefault(x, []).append((n, i))
        self.inits = {t.name: t for t in self.g.initializer}
        self.graph_outputs = {o.name for o in self.g.output}
        names = set(self.producer) | set(self.inits) | {i.name for i in self.g.input}
        self.names = names | {n.name for n in self.g.node}
        self.types = elemtype.elem_types(self.m)

    def fresh(self, base: str) -> str:
        while True:
            self.counter += 1
            name = f"mm/{base}_{self.counter}"
            if name not in self.names:
                self.names.add(name)
                return name

    def opset(self) -> int:
        return next((o.version for o in self.m.opset_import if o.domain in ("", "ai.onnx")), 0)

    def const(self, name: str) -> Optional[np.ndarray]:
        if name in self.inits:
            return numpy_helper.to_array(self.inits[name])
        n = self.producer.get(name)
        if n is not None and n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    return numpy_helper.to_array(a.t)
        return None

    def value(self, name: str) -> Optional[np.ndarray]:
        """A constant, or the value the probe saw (only for head-dim arithmetic, which no feed changes)."""
        v = self.const(name)
        if v is None and name in self.info:
            v = self.info[name][2]
        return v

    def add_const(self, array, base="const") -> str:
        name = self.fresh(base)
        self.g.initializer.append(numpy_helper.from_array(np.asarray(array), name))
        self.inits[name] = self.g.initializer[-1]
        return name

    def node(self, op, ins, outs=None, **attrs) -> onnx.NodeProto:
        outs = outs or [self.fresh(op.lower())]
        n = helper.make_node(op, ins, outs, name=self.fresh(op), **attrs)
        self.g.node.append(n)
        return n

    def rank(self, name) -> Optional[int]:
        if name in self.info:
            return len(self.info[name][1])
        if name in self.inits:
            return len(self.inits[name].dims)
        return None

    def shape(self, name) -> Optional[tuple]:
        if name in self.info:
            return tuple(self.info[name][1])
        if name in self.inits:
            return tuple(self.inits[name].dims)
        return None

    def dtype(self, name) -> Optional[int]:
        """The element type from the producers (elemtype), else the one ORT gave the probe."""
        if name in self.types:
            return self.types[name]
        if name in self.info:
            return _NP2ONNX.get(np.dtype(self.info[name][0]))
        return None


def attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def set_attrs(node, **attrs):
    del node.attribute[:]
    for k, v in attrs.items():
        node.attribute.append(helper.make_attribute(k, v))


def toposort(graph: onnx.GraphProto) -> None:
    """Stable topological order of the graph's nodes (edits append nodes at the end)."""
    avail = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    nodes = list(graph.node)
    done, order = [False] * len(nodes), []
    progress = True
    while progress:
        progress = False
        for i, n in enumerate(nodes):
            if not done[i] and all(x in avail for x in n.input):
                done[i] = True
                order.append(n)
                avail.update(n.output)
                progress = True
    if len(order) != len(nodes):
        missing = [n.name for i, n in enumerate(nodes) if not done[i]][:3]
        raise RuntimeError(f"rewrite left a cycle or dangling input at {missing}")
    del graph.node[:]
    graph.node.extend(order)


def prune(graph: onnx.GraphProto) -> None:
    """Drop nodes and initializers nothing reads any more (a rewrite's leftovers)."""
    while True:
        used = {x for n in graph.node for x in n.input} | {o.name for o in graph.output}
        dead = [n for n in graph.node if not any(o in used for o in n.output if o)]
        if not dead:
            break
        for n in dead:
            graph.node.remove(n)
    used = {x for n in graph.node for x in n.input} | {o.name for o in graph.output}
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)


# --------------------------------------------------------------------------
# The RoPE region
# --------------------------------------------------------------------------

def _rotary_table_inputs(n: onnx.NodeProto) -> List[str]:
    if n.op_type == "GroupQueryAttention":
        return list(n.input[7:9]) if attr(n, "do_rotary", 0) else []
    return list(n.input[1:])


def rope_region(g: G) -> set:
    """Names of the nodes a RoPE analysis reads: the backward closure of every Cos/Sin
    and of the cos/sin/position inputs of fused rotary ops; forward from Cos/Sin through
    data movement and elementwise ops up to the rotation (Mul/Add), plus the rotate-half
    nodes (Slice/Neg/Concat/Cast/Transpose) feeding those Muls."""
    region = set()
    stack = []
    for n in g.g.node:
        if n.op_type in ("Cos", "Sin"):
            stack += list(n.input)
            region.add(n.name)
        elif n.op_type in ROTARY_OPS:
            ins = _rotary_table_inputs(n)
            if ins:
                stack += ins
                region.add(n.name)
    seen = set()
    while stack:
        x = stack.pop()
        if x in seen:
            continue
        seen.add(x)
        p = g.producer.get(x)
        if p is not None:
            region.add(p.name)
            stack += list(p.input)
    # Forward from Cos/Sin to the rotation.
    fwd_ops = MOVE_OPS | {"Concat", "Split", "Cast", "Identity", "Mul", "Add", "Sub", "Neg"}
    frontier = [o for n in g.g.node if n.op_type in ("Cos", "Sin") for o in n.output]
    muls = []
    seen = set()
    while frontier:
        x = frontier.pop()
        if x in seen:
            continue
        seen.add(x)
        for c, _ in g.consumers.get(x, []):
            if c.op_type not in fwd_ops:
                continue
            region.add(c.name)
            if c.op_type == "Mul":
                muls.append(c)
            if c.op_type == "Add":
                continue              # the rotation's sum: stop before attention
            frontier += list(c.output)
    rh_ops = {"Slice", "Neg", "Concat", "Cast", "Transpose", "Reshape", "Unsqueeze", "Split", "Identity",
              "Squeeze", "Gather"}
    for mul in muls:
        for x in mul.input:
            todo, depth = [(x, 0)], {}
            while todo:
                v, d = todo.pop()
                p = g.producer.get(v)
                if p is None or p.op_type not in rh_ops or d > 4 or p.name in depth:
                    continue
                depth[p.name] = d
                region.add(p.name)
                todo += [(y, d + 1) for y in p.input[:1]]
    return region


# --------------------------------------------------------------------------
# Rewrite kinds: each picks one place with rng and edits g in place
# --------------------------------------------------------------------------

def _pick(rng: random.Random, places: Sequence):
    if not places:
        raise NotApplicable()
    return places[rng.randrange(len(places))]


def _edges(g: G, region):
    out = []
    for n in g.g.node:
        if n.name not in region:
            continue
        for i, x in enumerate(n.input):
            if x and (x in g.producer or x in g.inits or x in {j.name for j in g.g.input}):
                out.append((n, i))
    return out


def rw_identity(g: G, rng, region) -> str:
    n, i = _pick(rng, _edges(g, region))
    x = n.input[i]
    new = g.node("Identity", [x]).output[0]
    n.input[i] = new
    return f"Identity on {x} -> {n.name}"


def rw_cast_same(g: G, rng, region) -> str:
    edges = [(n, i) for n, i in _edges(g, region) if g.dtype(n.input[i]) is not None]
    n, i = _pick(rng, edges)
    x = n.input[i]
    new = g.node("Cast", [x], to=g.dtype(x)).output[0]
    n.input[i] = new
    return f"Cast to own type on {x} -> {n.name}"


def rw_fused_input(g: G, rng, region) -> str:
    """Identity + same-type Cast on one input of a fused rotary op (x, position_ids, the
    caches; GroupQueryAttention's q/k/v, past, seqlens_k, total_sequence_length)."""
    places = [(n, i) for n in g.g.node if n.op_type in ROTARY_OPS
              for i, x in enumerate(n.input) if x and g.dtype(x) is not None]
    n, i = _pick(rng, places)
    x = n.input[i]
    to = g.dtype(x)
    ident = g.node("Identity", [x]).output[0]
    n.input[i] = g.node("Cast", [ident], to=to).output[0]
    return f"Identity + Cast to {TensorProto.DataType.Name(to)} on {x} -> {n.op_type} {n.name} input {i}"


def rw_commute(g: G, rng, region) -> str:
    places = [n for n in g.g.node if n.name in region and n.op_type in ("Mul", "Add")
              and len(n.input) == 2 and n.input[0] != n.input[1]]
    n = _pick(rng, places)
    a, b = n.input
    n.input[0], n.input[1] = b, a
    return f"{n.op_type} {n.name} operands swapped"


def _axes(g: G, n) -> Optional[List[int]]:
    if len(n.input) > 1 and n.input[1]:
        v = g.const(n.input[1])
        return None if v is None else [int(a) for a in np.asarray(v).reshape(-1)]
    a = attr(n, "axes")
    return None if a is None else list(a)


def rw_unsqueeze_reshape(g: G, rng, region) -> str:
    places = [n for n in g.g.node if n.name in region and n.op_type == "Unsqueeze"
              and _axes(g, n) is not None and g.rank(n.output[0]) is not None]
    n = _pick(rng, places)
    x, r = n.input[0], g.rank(n.output[0])
    axes = sorted(a % r for a in _axes(g, n))
    rest = [i for i in range(r) if i not in axes]
    first = axes[0]
    after = [i for i in rest if i > first]
    if len(after) <= 1:
        target = [1 if i in axes else (0 if i < first else -1) for i in range(r)]
        shape = g.add_const(np.array(target, np.int64), "unsqueeze_shape")
        how = f"constant {target}"
    else:
        shp = g.node("Shape", [x]).output[0]
        parts, j = [], 0
        for i in range(r):
            if i in axes:
                parts.append(g.add_const(np.array([1], np.int64), "one"))
            else:
                parts.append(g.node("Gather", [shp, g.add_const(np.array([j], np.int64), "dim")],
                                    axis=0).output[0])
                j += 1
        shape = g.node("Concat", parts, axis=0).output[0]
        how = "Shape + Gather"
    n.op_type = "Reshape"
    del n.input[:]
    n.input.extend([x, shape])
    set_attrs(n)
    return f"Unsqueeze {n.name} -> Reshape ({how})"


def rw_gather_slice(g: G, rng, region) -> str:
    if g.opset() < 13:
        raise NotApplicable()
    places = []
    for n in g.g.node:
        if n.name in region and n.op_type == "Gather" and g.rank(n.input[0]) is not None:
            idx = g.const(n.input[1])
            if idx is not None and idx.size == 1 and idx.ndim <= 1:
                places.append((n, idx))
    n, idx = _pick(rng, places)
    i = int(idx.reshape(-1)[0])
    axis = attr(n, "axis", 0) % g.rank(n.input[0])
    end = INT64_MAX if i == -1 else i + 1
    args = [n.input[0], g.add_const(np.array([i], np.int64), "start"),
            g.add_const(np.array([end], np.int64), "end"), g.add_const(np.array([axis], np.int64), "axis")]
    if idx.ndim == 0:
        sl = g.node("Slice", args).output[0]
        n.op_type = "Squeeze"
        del n.input[:]
        n.input.extend([sl, args[3]])
        set_attrs(n)
        return f"Gather {n.name} of scalar {i} -> Slice + Squeeze"
    n.op_type = "Slice"
    del n.input[:]
    n.input.extend(args)
    set_attrs(n)
    return f"Gather {n.name} of [{i}] -> Slice"


def rw_split_slices(g: G, rng, region) -> str:
    if g.opset() < 13:
        raise NotApplicable()
    places = [n for n in g.g.node if n.name in region and n.op_type == "Split"
              and all(g.shape(o) is not None for o in n.output)]
    n = _pick(rng, places)
    r = g.rank(n.output[0])
    axis = attr(n, "axis", 0) % r
    start = 0
    ax = g.add_const(np.array([axis], np.int64), "axis")
    for o in n.output:
        size = g.shape(o)[axis]
        g.node("Slice", [n.input[0], g.add_const(np.array([start], np.int64), "start"),
                         g.add_const(np.array([start + size], np.int64), "end"), ax], outs=[o])
        start += size
    g.g.node.remove(n)
    return f"Split {n.name} -> {len(n.output)} Slices"


def rw_concat_tile(g: G, rng, region) -> str:
    places = [n for n in g.g.node if n.name in region and n.op_type == "Concat" and len(n.input) >= 2
              and len(set(n.input)) == 1 and g.rank(n.input[0]) is not None]
    n = _pick(rng, places)
    r = g.rank(n.input[0])
    reps = [1] * r
    reps[attr(n, "axis") % r] = len(n.input)
    x = n.input[0]
    n.op_type = "Tile"
    del n.input[:]
    n.input.extend([x, g.add_const(np.array(reps, np.int64), "repeats")])
    set_attrs(n)
    return f"Concat {n.name} of {max(reps)} copies -> Tile {reps}"


def rw_init_constant(g: G, rng, region) -> str:
    inputs = {i.name for i in g.g.input}
    inits = sorted({x for n in g.g.node if n.name in region for x in n.input
                    if x in g.inits and x not in inputs})
    consts = [n for n in g.g.node if n.name in region and n.op_type == "Constant"
              and attr(n, "value") is not None]
    places = [("init", x) for x in inits] + [("const", n) for n in consts]
    what, p = _pick(rng, places)
    if what == "init":
        t = g.inits[p]
        g.g.initializer.remove(t)
        node = helper.make_node("Constant", [], [p], name=g.fresh("Constant"), value=t)
        g.g.node.insert(0, node)
        return f"initializer {p} -> Constant node"
    t = onnx.TensorProto()
    t.CopyFrom(attr(p, "value"))
    t.name = p.output[0]
    g.g.initializer.append(t)
    g.g.node.remove(p)
    return f"Constant {p.name} -> initializer"


def _last_axis(g: G, n) -> bool:
    r = g.rank(n.output[0])
    return r is not None and attr(n, "axis") % r == r - 1


def rw_rotate_half_sign(g: G, rng, region) -> str:
    places = []
    for n in g.g.node:
        if n.name in region and n.op_type == "Concat" and len(n.input) == 2 and _last_axis(g, n):
            p = g.producer.get(n.input[0])
            if p is not None and p.op_type == "Neg" and g.shape(n.input[0]) and g.shape(n.input[1]) \
                    and g.dtype(n.output[0]) in (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE):
                places.append((n, p))
    n, neg = _pick(rng, places)
    d0, d1 = g.shape(n.input[0])[-1], g.shape(n.input[1])[-1]
    dt = _ONNX2NP[g.dtype(n.output[0])]
    sign = g.add_const(np.array([-1] * d0 + [1] * d1, dt), "rotate_half_sign")
    out = n.output[0]
    cat = g.node("Concat", [neg.input[0], n.input[1]], axis=-1).output[0]
    n.op_type = "Mul"
    del n.input[:]
    n.input.extend([cat, sign])
    del n.output[:]
    n.output.append(out)
    set_attrs(n)
    return f"rotate_half {n.name}: Neg+Concat -> Concat * sign"


def _halves_of(g: G, neg_in, x1):
    """(x, h) when neg_in = x[..., h:] and x1 = x[..., :h] are Slices of the same x on the last axis."""
    def sl(v):
        p = g.producer.get(v)
        if p is None or p.op_type != "Slice" or len(p.input) < 4:
            return None
        s, e, a = (g.value(p.input[i]) for i in (1, 2, 3))
        if s is None or e is None or a is None or s.size != 1:
            return None
        r = g.rank(p.input[0])
        if r is None or int(a.reshape(-1)[0]) % r != r - 1:
            return None
        if len(p.input) > 4 and p.input[4]:
            st = g.value(p.input[4])
            if st is None or int(st.reshape(-1)[0]) != 1:
                return None
        return p.input[0], int(s.reshape(-1)[0]), int(e.reshape(-1)[0])
    a, b = sl(neg_in), sl(x1)
    if not a or not b or a[0] != b[0]:
        return None
    D = g.shape(a[0])[-1]
    h = D // 2
    if b[1] != 0 or b[2] != h or a[1] != h or a[2] < D:
        return None
    return a[0], h


def rw_rotate_half_sub(g: G, rng, region) -> str:
    places = []
    for add in g.g.node:
        if add.name not in region or add.op_type != "Add":
            continue
        muls = [g.producer.get(x) for x in add.input]
        if not all(m is not None and m.op_type == "Mul" for m in muls):
            continue
        for mi in (0, 1):
            rot_mul, cos_mul = muls[mi], muls[1 - mi]
            for ri in (0, 1):
                cat = g.producer.get(rot_mul.input[ri])
                sin = rot_mul.input[1 - ri]
                if cat is None or cat.op_type != "Concat" or len(cat.input) != 2 or not _last_axis(g, cat):
                    continue
                neg = g.producer.get(cat.input[0])
                if neg is None or neg.op_type != "Neg":
                    continue
                hv = _halves_of(g, neg.input[0], cat.input[1])
                if hv is None:
                    continue
                x, h = hv
                if x not in cos_mul.input:
                    continue
                cos = cos_mul.input[1 - list(cos_mul.input).index(x)]
                if g.shape(cos) is None or g.shape(sin) is None or g.shape(cos)[-1] != 2 * h \
                        or g.shape(sin)[-1] != 2 * h:
                    continue
                places.append((add, x, h, cos, sin, neg.input[0], cat.input[1]))
    add, x, h, cos, sin, x2, x1 = _pick(rng, places)
    lo = [g.add_const(np.array([0], np.int64), "start"), g.add_const(np.array([h], np.int64), "end")]
    hi = [lo[1], g.add_const(np.array([2 * h], np.int64), "end")]
    ax = g.add_const(np.array([-1], np.int64), "axis")
    c1, c2, s1, s2 = (g.node("Slice", [t] + se + [ax]).output[0] for t, se in
                      ((cos, lo), (cos, hi), (sin, lo), (sin, hi)))
    y1 = g.node("Sub", [g.node("Mul", [x1, c1]).output[0], g.node("Mul", [x2, s1]).output[0]]).output[0]
    y2 = g.node("Add", [g.node("Mul", [x2, c2]).output[0], g.node("Mul", [x1, s2]).output[0]]).output[0]
    out = add.output[0]
    g.g.node.remove(add)
    g.node("Concat", [y1, y2], outs=[out], axis=-1)
    return f"rotation {add.name}: x*cos + rotate_half(x)*sin -> Concat(x1*c1 - x2*s1, x2*c2 + x1*s2)"


def rw_sub_neg(g: G, rng, region) -> str:
    places = []
    for n in g.g.node:
        if n.name not in region:
            continue
        if n.op_type == "Sub":
            places.append(("sub", n, None))
        elif n.op_type == "Add":
            for i in (0, 1):
                p = g.producer.get(n.input[i])
                if p is not None and p.op_type == "Neg":
                    places.append(("add", n, i))
        if n.op_type == "Add" and not any(w[1] is n for w in places):
            places.append(("plain_add", n, None))
    what, n, i = _pick(rng, places)
    if what == "plain_add":          # a + b == a - (-b) exactly
        neg = g.node("Neg", [n.input[1]]).output[0]
        n.op_type = "Sub"
        n.input[1] = neg
        return f"Add {n.name} -> Sub(a, Neg(b))"
    if what == "sub":
        neg = g.node("Neg", [n.input[1]]).output[0]
        n.op_type = "Add"
        n.input[1] = neg
        return f"Sub {n.name} -> Add(a, Neg(b))"
    b = g.producer[n.input[i]].input[0]
    a = n.input[1 - i]
    n.op_type = "Sub"
    del n.input[:]
    n.input.extend([a, b])
    return f"Add {n.name} of a Neg -> Sub"


def _einsum_outer(n) -> bool:
    return n.op_type == "Einsum" and attr(n, "equation", b"").decode().replace(" ", "") == "i,j->ij"


def _outer_pair(g: G, n) -> bool:
    """MatMul/Mul of [..., n, 1] and [..., 1, m] (ranks >= 2): one product per output element."""
    a, b = g.shape(n.input[0]), g.shape(n.input[1])
    return a is not None and b is not None and len(a) >= 2 and len(b) >= 2 and a[-1] == 1 and b[-2] == 1


def rw_outer_product(g: G, rng, region) -> str:
    places = []
    for n in g.g.node:
        if n.name not in region:
            continue
        if _einsum_outer(n):
            places += [(n, "Mul"), (n, "MatMul")]
        elif n.op_type in ("MatMul", "Mul") and _outer_pair(g, n):
            places.append((n, "Mul" if n.op_type == "MatMul" else "MatMul"))
            if g.rank(n.input[0]) == 2 and g.rank(n.input[1]) == 2:
                places.append((n, "Einsum"))
    n, to = _pick(rng, places)
    was = n.op_type
    if was == "Einsum":
        a = g.node("Unsqueeze", [n.input[0], g.add_const(np.array([1], np.int64), "axes")]).output[0]
        b = g.node("Unsqueeze", [n.input[1], g.add_const(np.array([0], np.int64), "axes")]).output[0]
        del n.input[:]
        n.input.extend([a, b])
    n.op_type = to
    set_attrs(n, **({"equation": "ik,kj->ij"} if to == "Einsum" else {}))
    return f"outer product {n.name}: {was} -> {to}"


def rw_flatten_reshape(g: G, rng, region) -> str:
    places = []
    for n in g.g.node:
        if n.name not in region:
            continue
        if n.op_type == "Flatten" and attr(n, "axis", 1) in (0, 1):
            places.append(n)
        elif n.op_type == "Reshape" and g.rank(n.input[0]) is not None and g.rank(n.input[0]) >= 2:
            t = g.const(n.input[1])
            if t is not None and t.tolist() == [0, -1] and not attr(n, "allowzero", 0):
                places.append(n)
    n = _pick(rng, places)
    if n.op_type == "Flatten":
        axis = attr(n, "axis", 1)
        target = [1, -1] if axis == 0 else [0, -1]
        x = n.input[0]
        n.op_type = "Reshape"
        del n.input[:]
        n.input.extend([x, g.add_const(np.array(target, np.int64), "flat_shape")])
        set_attrs(n)
        return f"Flatten {n.name} (axis {axis}) -> Reshape {target}"
    x = n.input[0]
    n.op_type = "Flatten"
    del n.input[:]
    n.input.append(x)
    set_attrs(n, axis=1)
    return f"Reshape {n.name} [0, -1] -> Flatten(axis=1)"


def rw_cast_move(g: G, rng, region) -> str:
    places = []
    for c in g.g.node:
        if c.name not in region or c.op_type != "Cast" or c.output[0] in g.graph_outputs:
            continue
        uses = g.consumers.get(c.output[0], [])
        if len(uses) == 1 and uses[0][0].op_type in MOVE_OPS and uses[0][1] == 0 \
                and uses[0][0].output[0] not in g.graph_outputs:
            places.append(("later", c, uses[0][0]))
        p = g.producer.get(c.input[0])
        if p is not None and p.op_type in MOVE_OPS and len(g.consumers.get(p.output[0], [])) == 1 \
                and p.output[0] not in g.graph_outputs:
            places.append(("earlier", c, p))
    what, c, m = _pick(rng, places)
    if what == "later":               # x -> Cast -> M -> y   becomes   x -> M -> Cast -> y
        x, y, mid = c.input[0], m.output[0], g.fresh("moved")
        m.input[0], m.output[0] = x, mid
        c.input[0], c.output[0] = mid, y
        return f"Cast {c.name} moved after {m.op_type} {m.name}"
    x, y, mid = m.input[0], c.output[0], g.fresh("moved")   # x -> M -> Cast -> y   becomes   x -> Cast -> M -> y
    c.input[0], c.output[0] = x, mid
    m.input[0], m.output[0] = mid, y
    return f"Cast {c.name} moved before {m.op_type} {m.name}"


def _last_axis_slice(g: G, n) -> Optional[Tuple[str, int, int]]:
    """(x, start, end) when ``n`` is a step-1 Slice of one axis, the last, of ``x`` (known
    shape), with bounds known (constants, or the probe's values: the channel axis is the
    head dim, which no feed changes), clamped to ``[0, D]``."""
    if n.op_type != "Slice" or g.opset() < 10 or len(n.input) < 3:
        return None
    x = n.input[0]
    shp = g.shape(x)
    if not shp:
        return None
    r, D = len(shp), shp[-1]
    vals = [g.value(n.input[i]) if len(n.input) > i and n.input[i] else None for i in (1, 2, 3, 4)]
    s, e, a, st = vals
    if s is None or e is None or s.size != 1 or e.size != 1:
        return None
    if (a is not None and (a.size != 1 or int(a.reshape(-1)[0]) % r != r - 1)) or (a is None and r != 1):
        return None
    if st is not None and (st.size != 1 or int(st.reshape(-1)[0]) != 1):
        return None

    def clamp(v):
        v = int(v.reshape(-1)[0])
        return min(max(v + D if v < 0 else v, 0), D)
    start, end = clamp(s), clamp(e)
    return (x, start, end) if start < end else None


def rw_slices_split(g: G, rng, region) -> str:
    # Every Slice of the tensor, one in the region at least (the region follows rotate_half's
    # Concat back through its first operand only: x[..., h:], not x[..., :h]).
    groups: Dict[str, Dict[Tuple[int, int], list]] = {}
    for n in g.g.node:
        if n.op_type != "Slice" or n.output[0] in g.graph_outputs:
            continue
        piece = _last_axis_slice(g, n)
        if piece:
            groups.setdefault(piece[0], {}).setdefault(piece[1:], []).append(n)
    places = []
    for x, pieces in groups.items():
        if not any(n.name in region for ns in pieces.values() for n in ns):
            continue
        D = g.shape(x)[-1]

        def chain(cur, used):       # pieces that tile [cur, D), each once
            if cur == D:
                return used
            for (a, b) in sorted(pieces):
                if a == cur:
                    got = chain(b, used + [(a, b)])
                    if got and len(got) >= 2:
                        return got
            return None
        c = chain(0, [])
        if c:
            places.append((x, c))
    x, c = _pick(rng, sorted(places, key=lambda p: p[0]))
    groups_x = groups[x]
    outs = []
    for bounds in c:
        keep, *dups = groups_x[bounds]
        outs.append(keep.output[0])
        for d in dups:               # the same slice spelled twice: one Split output feeds both
            for c2, i in g.consumers.get(d.output[0], []):
                c2.input[i] = keep.output[0]
            g.g.node.remove(d)
        g.g.node.remove(keep)
    sizes = [b - a for a, b in c]
    r = len(g.shape(x))
    if g.opset() >= 13:
        g.node("Split", [x, g.add_const(np.array(sizes, np.int64), "split")], outs=outs, axis=r - 1)
    else:
        g.node("Split", [x], outs=outs, axis=r - 1, split=sizes)
    return f"{len(c)} Slices of {x} -> Split {sizes}"


FUNCTION_DOMAIN = "mm.functions"


def rw_as_function(g: G, rng, region) -> str:
    """A run of 2-8 consecutive nodes (in topological order) that starts in the RoPE region
    becomes a model-local function, called once where the run was (what torch's
    export_modules_as_functions and onnxscript write). Its inputs: what the run reads from
    outside; its outputs: what the run computes and something outside reads. A model of IR
    version 7 becomes 8, the first with functions (nothing else changes meaning)."""
    nodes = list(g.g.node)
    ok_domains = ("", "ai.onnx", "com.microsoft")
    starts = [i for i, n in enumerate(nodes) if n.name in region]
    rng.shuffle(starts)
    for start in starts:
        run = nodes[start:start + rng.randint(2, 8)]
        if len(run) < 2 or any(n.domain not in ok_domains or
                               any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
                                   for a in n.attribute) for n in run):
            continue
        inside = {n.name for n in run}
        made = [o for n in run for o in n.output if o]
        reads = []
        for n in run:
            for x in n.input:
                if x and x not in made and x not in reads:
                    reads.append(x)
        outs = [o for o in made if o in g.graph_outputs or
                any(c.name not in inside for c, _ in g.consumers.get(o, []))]
        if not outs:
            continue
        name = g.fresh("Fn").split("/")[-1]
        domains = sorted({"" if n.domain in ("", "ai.onnx") else n.domain for n in run})
        opsets = [helper.make_opsetid(d, g.opset() if d == "" else 1) for d in domains]
        g.m.functions.append(helper.make_function(FUNCTION_DOMAIN, name, reads, outs,
                                                  [copy_node(n) for n in run], opsets))
        g.m.ir_version = max(g.m.ir_version, 8)
        if not any(o.domain == FUNCTION_DOMAIN for o in g.m.opset_import):
            g.m.opset_import.append(helper.make_opsetid(FUNCTION_DOMAIN, 1))
        for n in run:
            g.g.node.remove(n)
        call = helper.make_node(name, reads, outs, domain=FUNCTION_DOMAIN, name=g.fresh("call"))
        g.g.node.append(call)
        return f"{len(run)} nodes {run[0].name} .. {run[-1].name} -> function {name}"
    raise NotApplicable()


def copy_node(n: onnx.NodeProto) -> onnx.NodeProto:
    c = onnx.NodeProto()
    c.CopyFrom(n)
    return c


KINDS: Dict[str, Callable] = {
    "identity": rw_identity, "cast_same": rw_cast_same, "commute": rw_commute,
    "unsqueeze_reshape": rw_unsqueeze_reshape, "gather_slice": rw_gather_slice,
    "split_slices": rw_split_slices, "concat_tile": rw_concat_tile, "init_constant": rw_init_constant,
    "rotate_half_sign": rw_rotate_half_sign, "rotate_half_sub": rw_rotate_half_sub, "sub_neg": rw_sub_neg,
    "outer_product": rw_outer_product, "flatten_reshape": rw_flatten_reshape, "cast_move": rw_cast_move,
    "slices_split": rw_slices_split, "fused_input": rw_fused_input, "as_function": rw_as_function,
}


# --------------------------------------------------------------------------
# Running: probe shapes, rewrite, check
# --------------------------------------------------------------------------

def _save(model, path):
    Path(path).write_bytes(model.SerializeToString())


def probe(model: onnx.ModelProto, feeds: Dict[str, np.ndarray]) -> Dict[str, tuple]:
    """(dtype, shape, small int value or None) of every node output on ``feeds`` (one ONNX
    Runtime run, optimizations off)."""
    from .. import ort
    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for n in m.graph.node:
        for o in n.output:
            if o and o not in have:
                m.graph.output.append(onnx.ValueInfoProto(name=o))
                have.add(o)
    with tempfile.TemporaryDirectory(prefix="mrope-rw-") as tmp:
        path = Path(tmp) / "probe.onnx"
        _save(m, path)
        out = ort.run(path, feeds, optimization="disabled")
    # Small integer values too (slice bounds computed from shapes, e.g. torch's x.shape[-1] // 2).
    return {k: (v.dtype, tuple(v.shape), v.copy() if v.dtype.kind in "iu" and v.size <= 16 else None)
            for k, v in out.items()}


def rewrite(model: onnx.ModelProto, kinds: Sequence[str], feeds: Dict[str, np.ndarray], seed: int = 0,
            info: Optional[dict] = None) -> Tuple[onnx.ModelProto, List[str]]:
    """A copy of ``model`` with each of ``kinds`` applied once, in order, at random places.

    Raises :class:`NotApplicable` when a kind finds no place.  ``info`` is the
    :func:`probe` of ``model`` (probed when missing; re-probed between kinds).
    Returns the new model and one line per applied rewrite.
    """
    rng = random.Random(seed)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    done = []
    for k, kind in enumerate(kinds):
        if info is None or k > 0:
            info = probe(m, feeds)
        g = G(m, info)
        done.append(f"{kind}: " + KINDS[kind](g, rng, rope_region(g)))
        prune(m.graph)
        toposort(m.graph)
    return m, done


def max_diff(a: Dict[str, np.ndarray], b: Dict[str, np.ndarray]) -> float:
    if set(a) != set(b):
        return float("inf")
    d = 0.0
    for k in a:
        if a[k].shape != b[k].shape:
            return float("inf")
        if a[k].size:
            d = max(d, float(np.max(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)))))
    return d


def max_diff_sets(a: Sequence[Dict[str, np.ndarray]], b: Sequence[Dict[str, np.ndarray]]) -> float:
    return max(max_diff(x, y) for x, y in zip(a, b))


def run_outputs(path, feed_sets: Sequence[Dict[str, np.ndarray]]):
    from .. import ort
    return ort.run_many(path, feed_sets, optimization="disabled")


def check_equal(original, rewritten, feed_sets, reference=None) -> float:
    """max |original - rewritten| over every output and feed set (ORT, optimizations off).

    ``reference``: the original's outputs when already computed.
    """
    ref_out = reference if reference is not None else run_outputs(original, feed_sets)
    new_out = run_outputs(rewritten, feed_sets)
    return max(max_diff(a, b) for a, b in zip(ref_out, new_out))
