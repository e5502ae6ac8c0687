"""Read a NIR graph of dense weights and LIF neurons into layers the LSM engine can run.

Accepted graphs: one ``Input``, one ``Output`` and between them a chain of spiking layers, each
``[Linear | Affine] -> neuron`` (the dense node may be left out when the sizes agree: identity),
where the neuron is ``LIF``, ``IF`` or ``CubaLIF`` (the latter only with ``tau_syn = dt``, i.e. a
synaptic current without memory, which is a LIF) and may have a recurrent dense node (a
``Linear`` / ``Affine`` fed only by that neuron and feeding only it) -- feed-forward or recurrent.
Nested ``NIRGraph`` nodes (snnTorch's recurrent subgraphs, our own export) are flattened first.
Anything else is refused with `NirGraphError` (exit 2 on the command line) naming the node and
its type.

Each layer becomes the LSM update (`rram_lsm.nir.semantics`, Euler step ``dt``)::

    u[t] = decay u[t-1] (1 - s[t-1]) + W_in^T x[t] + b + W_rec^T s[t-1],   s[t] = u[t] > v_th

with the neuron's input gain ``r dt / tau`` folded into W_in, W_rec and the bias (left out when it
is 1 to within 1e-9, so that exported weights come back bit for bit), ``b`` = gain * Affine bias
+ ``(dt / tau) v_leak``, and per-neuron thresholds folded into the weights (column j divided by
``v_th[j]``, threshold 1) when they differ. One decay per layer and ``v_reset = 0`` are required.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nir
import numpy as np

from rram_lsm.errors import InputError
from rram_lsm.nir.semantics import DEFAULT_DT, discretise

_DENSE = (nir.Linear, nir.Affine)
_NEURON = (nir.LIF, nir.IF, nir.CubaLIF)
SUPPORTED = "Input, Output, Linear, Affine, LIF, IF, CubaLIF (tau_syn = dt) and NIRGraph subgraphs"
_UNIT_TOL = 1e-9


class NirGraphError(InputError):
    """A NIR graph this package cannot run (exit code 2 on the command line)."""


@dataclass
class NirLayer:
    """One spiking layer: ``w_in`` [n_in, N] (row i: from input i), ``bias`` [N] or None,
    ``w_rec`` [N, N] (row j: from neuron j) or None, scalar ``decay`` and ``v_th``."""

    name: str
    w_in: np.ndarray
    bias: np.ndarray | None
    w_rec: np.ndarray | None
    decay: float
    v_th: float
    notes: list[str] = field(default_factory=list)

    @property
    def n_in(self) -> int:
        return self.w_in.shape[0]

    @property
    def n(self) -> int:
        return self.w_in.shape[1]


@dataclass
class NirNetwork:
    """The layers of a graph, input first; ``dt`` the Euler step used to discretise it."""

    layers: list[NirLayer]
    dt: float

    @property
    def n_inputs(self) -> int:
        return self.layers[0].n_in

    def summary(self) -> list[dict]:
        return [{"name": la.name, "n_in": la.n_in, "n": la.n, "recurrent": la.w_rec is not None,
                 "bias": la.bias is not None, "decay": la.decay, "v_th": la.v_th,
                 "notes": la.notes} for la in self.layers]


def read_graph(path) -> nir.NIRGraph:
    """`nir.read` with errors turned into `NirGraphError` naming the file."""
    try:
        g = nir.read(str(path))
    except FileNotFoundError:
        raise NirGraphError(f"{path}: file not found") from None
    except Exception as exc:  # h5py / nir raise many types on a malformed file
        raise NirGraphError(f"{path}: not a readable NIR file ({type(exc).__name__}: {exc})") \
            from None
    if not isinstance(g, nir.NIRGraph):
        raise NirGraphError(f"{path}: top-level node is a {type(g).__name__}, not a NIRGraph")
    return g


def _flatten(graph: nir.NIRGraph, prefix: str = "") -> tuple[dict, list, set]:
    """(nodes, edges, pass-through names): subgraphs inlined with dotted names; their own Input
    and Output nodes become pass-through nodes (contracted by the caller)."""
    nodes: dict = {}
    edges: list = []
    passes: set = set()
    inner_in: dict[str, list[str]] = {}
    inner_out: dict[str, list[str]] = {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            n2, e2, p2 = _flatten(node, full + ".")
            nodes.update(n2)
            edges.extend(e2)
            passes |= p2
            inner_in[full] = [full + "." + k for k, v in node.nodes.items()
                              if isinstance(v, nir.Input)]
            inner_out[full] = [full + "." + k for k, v in node.nodes.items()
                               if isinstance(v, nir.Output)]
            passes |= set(inner_in[full]) | set(inner_out[full])
        else:
            nodes[full] = node
    for a, b in graph.edges:
        a, b = prefix + a, prefix + b
        for src in inner_out.get(a, [a]):
            for dst in inner_in.get(b, [b]):
                edges.append((src, dst))
    return nodes, edges, passes


def _contract(nodes: dict, edges: list, passes: set) -> tuple[dict, list]:
    edges = list(dict.fromkeys(edges))
    for p in passes:
        preds = [a for a, b in edges if b == p]
        succs = [b for a, b in edges if a == p]
        edges = [e for e in edges if p not in e] + [(a, b) for a in preds for b in succs]
        nodes.pop(p, None)
    return nodes, list(dict.fromkeys(edges))


def _uniform(a: np.ndarray) -> bool:
    return bool(np.all(a == a[0]))


def _check_types(nodes: dict) -> None:
    for name, node in nodes.items():
        if not isinstance(node, (*_DENSE, *_NEURON, nir.Input, nir.Output)):
            raise NirGraphError(f"node '{name}' has type {type(node).__name__}, which this "
                                f"package cannot run (supported: {SUPPORTED})")


def parse_network(graph: nir.NIRGraph, dt: float = DEFAULT_DT) -> NirNetwork:
    """The `NirNetwork` of ``graph`` (see module doc); `NirGraphError` if it has other shapes."""
    if not isinstance(graph, nir.NIRGraph):
        raise NirGraphError(f"expected a NIRGraph, got a {type(graph).__name__}")
    nodes, edges, passes = _flatten(graph)
    _check_types({k: v for k, v in nodes.items() if k not in passes})
    nodes, edges = _contract(nodes, edges, passes)
    ins = [k for k, v in nodes.items() if isinstance(v, nir.Input)]
    outs = [k for k, v in nodes.items() if isinstance(v, nir.Output)]
    if len(ins) != 1 or len(outs) != 1:
        raise NirGraphError(f"the graph needs exactly one Input and one Output node, has "
                            f"{len(ins)} Input ({ins}) and {len(outs)} Output ({outs})")
    for a, b in edges:
        for x in (a, b):
            if x not in nodes:
                raise NirGraphError(f"edge ({a!r}, {b!r}) names node '{x}', which is not in "
                                    "the graph")
    succ = {k: [b for a, b in edges if a == k] for k in nodes}
    pred = {k: [a for a, b in edges if b == k] for k in nodes}
    layers: list[NirLayer] = []
    cur, width = ins[0], None
    seen: set = set()
    while True:
        nxt = [s for s in succ[cur] if s not in seen or s == outs[0]]
        if layers and layers[-1].w_rec is not None:
            nxt = [s for s in nxt if s != _rec_name(layers[-1], succ, pred, nodes)]
        if len(nxt) != 1:
            raise NirGraphError(f"node '{cur}' feeds {len(nxt)} nodes {nxt}; only a chain of "
                                "layers (one successor each) can run on the LSM engine")
        nk = nxt[0]
        if nk == outs[0]:
            if not layers:
                raise NirGraphError("the graph has no spiking layer between Input and Output")
            break
        node = nodes[nk]
        dense = None
        if isinstance(node, _DENSE):
            dense, dense_name = node, nk
            if len(succ[nk]) != 1 or not isinstance(nodes[succ[nk][0]], _NEURON):
                tail = succ[nk][0] if len(succ[nk]) == 1 else succ[nk]
                raise NirGraphError(f"dense node '{nk}' must feed exactly one LIF/IF/CubaLIF "
                                    f"node; it feeds {tail} (a graph must end in a spiking "
                                    "layer; a non-spiking readout runs digitally, not here)")
            nk = succ[nk][0]
            node = nodes[nk]
        elif not isinstance(node, _NEURON):
            raise NirGraphError(f"node '{nk}' ({type(node).__name__}) cannot follow '{cur}'")
        layer = _layer(nk, node, dense, dense_name if dense is not None else None, cur, nodes,
                       succ, pred, dt, width)
        layers.append(layer)
        seen |= {cur, nk}
        cur, width = nk, layer.n
    return NirNetwork(layers, dt)


def _rec_name(layer: NirLayer, succ, pred, nodes) -> str | None:
    for s in succ[layer.name]:
        if isinstance(nodes[s], _DENSE) and succ[s] == [layer.name] and pred[s] == [layer.name]:
            return s
    return None


def _weights(node, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    w = np.asarray(node.weight, np.float64)
    if w.ndim != 2:
        raise NirGraphError(f"dense node '{name}' has a weight of shape {w.shape}; expected "
                            "[out, in]")
    b = np.asarray(node.bias, np.float64).ravel() if isinstance(node, nir.Affine) else None
    if b is not None and b.size != w.shape[0]:
        raise NirGraphError(f"Affine node '{name}': bias has {b.size} values for {w.shape[0]} "
                            "outputs")
    if not np.all(np.isfinite(w)) or (b is not None and not np.all(np.isfinite(b))):
        raise NirGraphError(f"dense node '{name}' has non-finite weights")
    return w, b


def _layer(name, node, dense, dense_name, prev, nodes, succ, pred, dt, width) -> NirLayer:
    kind = type(node).__name__
    if isinstance(node, nir.CubaLIF):
        tau_syn = np.atleast_1d(np.asarray(node.tau_syn, np.float64))
        if not np.allclose(tau_syn, dt, rtol=1e-6, atol=0):
            raise NirGraphError(
                f"node '{name}' has type CubaLIF with tau_syn = {tau_syn.ravel()[:3]} s: its "
                f"synaptic current decays over several steps of dt = {dt} s, a second state the "
                "LSM engine does not have (only tau_syn = dt, a LIF, runs)")
    try:
        d = discretise(node, dt)
    except (ValueError, AttributeError) as exc:
        raise NirGraphError(f"node '{name}' ({kind}) has malformed parameters: {exc}") from None
    n = d.v_th.size
    notes: list[str] = []
    for field_name, arr in (("decay", d.decay), ("gain", d.gain), ("v_threshold", d.v_th)):
        if not np.all(np.isfinite(arr)):
            raise NirGraphError(f"node '{name}' ({kind}): {field_name} is not finite")
    if not _uniform(d.decay):
        raise NirGraphError(f"node '{name}' ({kind}): the neurons have different time "
                            "constants; the LSM engine runs one decay per layer")
    decay = float(d.decay[0])
    if not (0.0 <= decay <= 1.0):
        raise NirGraphError(f"node '{name}' ({kind}): tau gives decay 1 - dt/tau = {decay:.6g} "
                            f"outside [0, 1] at dt = {dt} s (tau must be >= dt)")
    if np.any(d.v_reset != 0):
        raise NirGraphError(f"node '{name}' ({kind}): v_reset must be 0 (the LSM resets to 0)")
    if np.any(d.v_th <= 0):
        raise NirGraphError(f"node '{name}' ({kind}): v_threshold must be > 0")
    others = [p for p in pred[name] if p != dense_name and p != prev]
    rec_name = None
    for p in others:
        if isinstance(nodes[p], _DENSE) and pred[p] == [name] and succ[p] == [name]:
            if rec_name is not None:
                raise NirGraphError(f"node '{name}' has two recurrent dense nodes")
            rec_name = p
        else:
            raise NirGraphError(f"node '{name}' gets input from '{p}' "
                                f"({type(nodes[p]).__name__}) besides its layer input; only "
                                "one forward and one recurrent dense input are supported")
    if dense is not None:
        w, b = _weights(dense, dense_name)
        if w.shape[0] != n:
            raise NirGraphError(f"dense node '{dense_name}' has {w.shape[0]} outputs but "
                                f"'{name}' has {n} neurons")
        w_in = w.T.copy()
    else:
        w_in, b = np.eye(n), None
        notes.append("no input dense node: identity weights")
    if width is not None and w_in.shape[0] != width:
        raise NirGraphError(f"layer '{name}' expects {w_in.shape[0]} inputs; the previous "
                            f"layer has {width} neurons")
    w_rec = None
    if rec_name is not None:
        wr, br = _weights(nodes[rec_name], rec_name)
        if wr.shape != (n, n):
            raise NirGraphError(f"recurrent node '{rec_name}' has weight {wr.shape}; expected "
                                f"({n}, {n})")
        w_rec = wr.T.copy()
        if br is not None and np.any(br != 0):
            b = br if b is None else b + br
    gain = d.gain
    if not np.allclose(gain, 1.0, rtol=_UNIT_TOL, atol=0):
        w_in = w_in * gain
        w_rec = None if w_rec is None else w_rec * gain
        b = None if b is None else b * gain
        notes.append("input gain r*dt/tau folded into the weights")
    if np.any(d.drive != 0):
        b = d.drive.copy() if b is None else b + d.drive
        notes.append("v_leak folded into the bias")
    v_th = float(d.v_th[0])
    if not _uniform(d.v_th):
        w_in = w_in / d.v_th
        w_rec = None if w_rec is None else w_rec / d.v_th
        b = None if b is None else b / d.v_th
        v_th = 1.0
        notes.append("per-neuron thresholds folded into the weights (threshold 1)")
    if b is not None and not np.any(b):
        b = None
    return NirLayer(name, w_in, b, w_rec, decay, v_th, notes)
