"""Import of NIR networks: a network built and exported by snnTorch, run ideal and on the macro."""

from __future__ import annotations

import nir
import numpy as np
import pytest

from rram_lsm.nir import NirGraphError, parse_network, run_network, spike_agreement

N_IN, H, O, T, B = 24, 16, 6, 40, 10


def _snntorch_net():
    """Linear -> recurrent LIF -> Linear -> LIF, reset to zero (what NIR's LIF means); biases on.
    ``reset_delay=False``: snnTorch's RLeaky with the default delayed zero reset also drops the
    input of the step after a spike, which no NIR neuron does (its importer sets it False too)."""
    import snntorch as snn
    import torch

    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(N_IN, H)
            self.lif1 = snn.RLeaky(beta=torch.full((H,), 0.9), linear_features=H,
                                   threshold=torch.full((H,), 1.0), reset_mechanism="zero",
                                   reset_delay=False, init_hidden=True)
            self.fc2 = torch.nn.Linear(H, O)
            self.lif2 = snn.Leaky(beta=torch.full((O,), 0.8), threshold=torch.full((O,), 0.5),
                                  reset_mechanism="zero", reset_delay=False, init_hidden=True)

        def forward(self, x):
            return self.lif2(self.fc2(self.lif1(self.fc1(x))))

    net = Net()
    with torch.no_grad():
        net.fc1.weight.mul_(3.0)
    return net


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return (np.random.default_rng(0).random((B, T, N_IN)) < 0.3).astype(np.uint8)


@pytest.fixture(scope="module")
def exported(frames):
    """(NIR graph from snnTorch's exporter, snnTorch's own spikes of both layers)."""
    import torch
    from snntorch import utils
    from snntorch.export_nir import export_to_nir

    net = _snntorch_net()
    utils.reset(net)
    x = torch.as_tensor(frames, dtype=torch.float32)
    hidden, out = [], []
    with torch.no_grad():
        for t in range(T):
            s1 = net.lif1(net.fc1(x[:, t]))
            hidden.append(s1.numpy())
            out.append(net.lif2(net.fc2(s1)).numpy())
    utils.reset(net)
    graph = export_to_nir(net, torch.zeros(N_IN))
    return graph, np.stack(hidden, 1).astype(np.uint8), np.stack(out, 1).astype(np.uint8)


def test_snntorch_graph_is_parsed(exported):
    net = parse_network(exported[0])
    assert [(la.n_in, la.n, la.w_rec is not None, la.bias is not None) for la in net.layers] \
        == [(N_IN, H, True, True), (H, O, False, True)]
    assert net.layers[0].decay == pytest.approx(0.9, rel=1e-6)


def test_ideal_run_equals_snntorch(exported, frames):
    graph, hidden, out = exported
    assert 0.02 < hidden.mean() < 0.6 and out.mean() > 0.01
    run = run_network(parse_network(graph), frames)
    assert np.array_equal(run.rasters[0], hidden)
    assert np.array_equal(run.output, out)
    assert run.energy_j == 0.0 and run.mapping == []


def test_macro_run_agrees_and_books_energy(exported, frames):
    graph, hidden, out = exported
    net = parse_network(graph)
    run = run_network(net, frames, preset="rram-40nm-256kb", seed=1)
    assert run.energy_j > 0 and run.ledger[0]["total_energy_j"] > 0
    assert [m.n_arrays for m in run.mapping] == [1, 1]
    assert all(m.clipped_fraction == 0 and m.rel_error_rms < 1e-12 for m in run.mapping)
    agree_hidden = spike_agreement(run.rasters[0], hidden)
    assert 0.85 < agree_hidden < 1.0  # read noise and the ADC flip some spikes, not most
    assert spike_agreement(run.output, out) > 0.85


def test_macro_without_noise_or_adc_is_the_ideal_network(exported, frames, small_preset_file):
    """Tiled over several small arrays, noise and ADC off: the macro computes the network."""
    graph, hidden, out = exported
    preset = small_preset_file(16, 16, "nir-small")
    run = run_network(parse_network(graph), frames, preset=preset, noise="off", adc=False)
    assert run.mapping[0].n_tiles > 1 and run.n_arrays > 2
    assert spike_agreement(run.rasters[0], hidden) == 1.0
    assert spike_agreement(run.output, out) == 1.0


def test_quantisation_and_clipping_are_reported(exported, frames):
    net = parse_network(exported[0])
    q = run_network(net, frames[:2], preset="rram-40nm-256kb", levels=8, noise="off", adc=False)
    assert all(m.levels == 8 and m.rel_error_rms > 1e-3 for m in q.mapping)
    c = run_network(net, frames[:2], preset="rram-40nm-256kb", clip_percentile=90.0)
    assert all(0.05 < m.clipped_fraction < 0.15 for m in c.mapping)


# --- hand-built graphs ---------------------------------------------------------------------


def _lif(n, tau=1e-3, thr=1.0, **kw):
    return nir.LIF(tau=np.full(n, tau), r=np.full(n, tau / 1e-4), v_leak=np.zeros(n),
                   v_threshold=np.full(n, thr) if np.isscalar(thr) else np.asarray(thr),
                   v_reset=kw.get("v_reset", np.zeros(n)))


def _graph(nodes: dict, edges: list) -> nir.NIRGraph:
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _chain(*middle) -> nir.NIRGraph:
    names = [f"n{i}" for i in range(len(middle))]
    nodes = {"input": nir.Input(input_type=np.array([4])), **dict(zip(names, middle)),
             "output": nir.Output(output_type=np.array([3]))}
    seq = ["input", *names, "output"]
    return _graph(nodes, list(zip(seq[:-1], seq[1:])))


def test_per_neuron_thresholds_are_folded(frames):
    rng = np.random.default_rng(2)
    w = rng.normal(0, 1.0, (3, 4))
    thr = np.array([0.5, 1.0, 2.0])
    net = parse_network(_chain(nir.Linear(weight=w), _lif(3, thr=thr)))
    x = frames[:, :, :4]
    u = np.zeros((B, 3))
    s = np.zeros((B, 3))
    want = []
    for t in range(T):
        u = 0.9 * u * (1 - s) + x[:, t] @ w.T
        s = (u > thr).astype(float)
        want.append(s)
    assert np.array_equal(run_network(net, x).output, np.stack(want, 1).astype(np.uint8))


@pytest.mark.parametrize(("node", "match"), [
    (nir.Threshold(threshold=np.ones(3)), "node 'n1' has type Threshold"),
    (nir.Delay(delay=np.ones(3)), "node 'n1' has type Delay"),
    (nir.CubaLIF(tau_syn=np.full(3, 5e-4), tau_mem=np.full(3, 1e-3), r=np.full(3, 10.0),
                 v_leak=np.zeros(3), v_threshold=np.ones(3)), "node 'n1' has type CubaLIF"),
    (_lif(3, v_reset=np.full(3, 0.2)), "v_reset must be 0"),
    (_lif(3, tau=5e-5), "outside \\[0, 1\\]"),
])
def test_unsupported_nodes_are_refused(node, match):
    with pytest.raises(NirGraphError, match=match):
        parse_network(_chain(nir.Linear(weight=np.ones((3, 4))), node))


def test_cubalif_without_synaptic_memory_runs():
    cuba = nir.CubaLIF(tau_syn=np.full(3, 1e-4), tau_mem=np.full(3, 1e-3), r=np.full(3, 10.0),
                       v_leak=np.zeros(3), v_threshold=np.ones(3), w_in=np.ones(3))
    la = parse_network(_chain(nir.Linear(weight=np.ones((3, 4))), cuba)).layers[0]
    assert la.decay == pytest.approx(0.9) and la.notes == []


def test_branching_and_readout_graphs_are_refused():
    w = nir.Linear(weight=np.ones((3, 4)))
    branch = _graph({"input": nir.Input(input_type=np.array([4])), "a": w, "b": _lif(3),
                     "c": nir.Linear(weight=np.ones((3, 4))), "d": _lif(3),
                     "output": nir.Output(output_type=np.array([3]))},
                    [("input", "a"), ("a", "b"), ("input", "c"), ("c", "d"), ("b", "output"),
                     ("d", "output")])
    with pytest.raises(NirGraphError, match="feeds 2 nodes"):
        parse_network(branch)
    with pytest.raises(NirGraphError, match="must feed exactly one LIF"):
        parse_network(_chain(w, _lif(3), nir.Linear(weight=np.ones((3, 3)))))
    with pytest.raises(NirGraphError, match="3 outputs but"):
        parse_network(_chain(w, _lif(5)))
