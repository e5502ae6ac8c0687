"""Export of the reservoir to NIR: snnTorch's own importer gives our engine's spikes."""

from __future__ import annotations

import io
import json

import nir
import numpy as np
import pytest

from rram_lsm.lsm import LiquidStateMachine, LSMConfig
from rram_lsm.nir import export_reservoir, parse_network, reservoir_graph, run_snntorch
from rram_lsm.nir.export import graph_bytes
from rram_lsm.nir.heads import apply_heads, export_heads

N_IN, N, T, B = 24, 20, 40, 12


def _config(source: str, reset: str = "zero", **over) -> LSMConfig:
    return LSMConfig.from_dict({
        "modality": "custom", "n_inputs": N_IN, "n_neurons": N, "n_steps": T, "decay": 0.9,
        "v_th": 5.0, "const": 0.02, "reset": reset, "dtype": "float64", "seed": 3,
        "weights": {"source": source}, "analog": {"noise": "off", "adc": False}, **over})


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return (np.random.default_rng(7).random((B, T, N_IN)) < 0.3).astype(np.uint8)


def _reread(graph: nir.NIRGraph) -> nir.NIRGraph:
    return nir.read(io.BytesIO(graph_bytes(graph)))


@pytest.mark.parametrize("source", ["gaussian", "macro"])
def test_snntorch_import_gives_our_spikes(source, frames):
    lsm = LiquidStateMachine(_config(source))
    ours = lsm.encode(frames, record_raster=True).raster
    assert 0.02 < ours.mean() < 0.6  # a test that means something: neither silent nor saturated
    theirs = run_snntorch(_reread(reservoir_graph(lsm)), frames)
    assert np.array_equal(theirs, ours)


def test_const_rec_round_trips(frames):
    lsm = LiquidStateMachine(_config("gaussian", const_rec=0.05))
    ours = lsm.encode(frames, record_raster=True).raster
    assert np.array_equal(run_snntorch(_reread(reservoir_graph(lsm)), frames), ours)


def test_subtract_reset_is_exported_as_reset_to_zero(frames, tmp_path):
    """NIR cannot carry reset by subtraction: consumers run the reservoir with reset to zero."""
    lsm_sub = LiquidStateMachine(_config("gaussian", reset="subtract"))
    with pytest.warns(UserWarning, match="subtract"):
        export_reservoir(lsm_sub, tmp_path / "sub.nir")
    theirs = run_snntorch(nir.read(tmp_path / "sub.nir"), frames)
    ours_sub = lsm_sub.encode(frames, record_raster=True).raster
    ours_zero = LiquidStateMachine(_config("gaussian")).encode(frames, record_raster=True).raster
    assert np.array_equal(theirs, ours_zero)
    assert not np.array_equal(theirs, ours_sub)


def test_export_carries_hardware_facts(tmp_path):
    lsm = LiquidStateMachine(_config("macro"))
    path = export_reservoir(lsm, tmp_path / "r.nir").path
    g = nir.read(path)
    rec = json.loads(g.metadata["rram_lsm"])
    hw = rec["hardware"]
    assert rec["lsm_config_digest"] == lsm.config.digest() and rec["dt"] == 1e-4
    assert hw["preset"] == lsm.synapses.spec.name and len(hw["preset_digest"]) == 64
    assert hw["die_seed"] == 3 and hw["form_voltage_v"] > 0
    assert hw["tiles"] and hw["n_arrays"] >= 1 and 0 < hw["formed_fraction"] < 1
    assert {"adc", "adc_bits", "adc_range_rule", "noise_relative", "read_noise"} <= set(hw)
    lif = g.nodes["reservoir"].nodes["lif"]
    assert isinstance(lif, nir.LIF) and lif.metadata["reset"] == "zero"
    np.testing.assert_allclose(lif.tau, 1e-4 / (1 - 0.9))
    np.testing.assert_allclose(g.nodes["input_weights"].weight, 0.02 * lsm.w_in.T)
    np.testing.assert_allclose(g.nodes["reservoir"].nodes["w_rec"].weight, 0.02 * lsm.w_rec.T)
    assert g.nodes["input_weights"].metadata["preset_digest"] == hw["preset_digest"]


def test_export_refuses_overwrite(tmp_path):
    from crossbar.errors import OutputExistsError

    lsm = LiquidStateMachine(_config("gaussian"))
    export_reservoir(lsm, tmp_path / "r.nir")
    with pytest.raises(OutputExistsError):
        export_reservoir(lsm, tmp_path / "r.nir")
    export_reservoir(lsm, tmp_path / "r.nir", force=True)


def test_our_import_of_our_export_is_exact(frames):
    lsm = LiquidStateMachine(_config("macro"))
    ours = lsm.encode(frames, record_raster=True).raster
    from rram_lsm.nir import run_network

    net = parse_network(_reread(reservoir_graph(lsm)))
    assert net.layers[0].notes == []  # gain 1: the weights come back untouched
    assert np.array_equal(run_network(net, frames).output, ours)


def test_no_leak_is_exported_as_if():
    g = reservoir_graph(LiquidStateMachine(_config("gaussian", decay=1.0)))
    assert isinstance(g.nodes["reservoir"].nodes["lif"], nir.IF)
    assert parse_network(g).layers[0].decay == 1.0


def test_heads_export_loads_without_this_package(tmp_path):
    import torch

    from rram_lsm.heads.models import DualProjection

    torch.manual_seed(0)
    model = DualProjection(12, 9, proj_dim=5, n_layers=2, activation="gelu").eval()
    path = export_heads(model, tmp_path / "heads.npz")
    z = np.load(path)
    assert json.loads(str(z["meta"]))["activation"] == "gelu"
    assert z["audio/0/weight"].shape == (5, 12) and z["image/1/weight"].shape == (5, 5)
    x = np.random.default_rng(0).normal(size=(4, 9)).astype(np.float32)
    with torch.no_grad():
        want = model.image(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(apply_heads(path, x, "image"), want, rtol=1e-4, atol=1e-5)
