"""Interchange with NIR (the Neuromorphic Intermediate Representation, package `nir`).

Export (`rram_lsm.nir.export`): an LSM reservoir as a NIR graph whose recurrent subgraph
`snntorch.import_from_nir` runs with the same spikes as our ideal engine (reset to zero; see
`rram_lsm.nir.semantics` for the mapping and what NIR cannot carry). Heads: `export_heads`
(plain ``.npz``). Import (`rram_lsm.nir.graph`, `rram_lsm.nir.run`): a NIR graph of
dense + LIF layers, run ideal or with its weights programmed onto a preset's macro.

Public API::

    export_reservoir(config_or_lsm, path, force=False, dt=1e-4) -> ExportResult
    reservoir_graph(lsm, dt=1e-4) -> nir.NIRGraph;  write_graph(graph, path, force=False)
    export_heads(train_result_or_model, path, force=False);  apply_heads(path, features, m)
    read_graph(path) -> nir.NIRGraph;  parse_network(graph, dt=1e-4) -> NirNetwork
    run_network(net, frames, preset=None | name, noise=, adc=, levels=, clip_percentile=)
        -> NirRun(rasters, mapping, energy_j, ledger);  spike_agreement(a, b)
    run_snntorch(graph, frames) -> spikes of snnTorch's own import (a check)
"""

from rram_lsm.nir.export import ExportResult, export_reservoir, reservoir_graph, write_graph
from rram_lsm.nir.graph import NirGraphError, NirLayer, NirNetwork, parse_network, read_graph
from rram_lsm.nir.heads import apply_heads, export_heads
from rram_lsm.nir.mapping import MappingReport
from rram_lsm.nir.run import NirRun, run_network, spike_agreement
from rram_lsm.nir.semantics import DEFAULT_DT
from rram_lsm.nir.snntorch_bridge import run_snntorch

__all__ = [
    "DEFAULT_DT", "ExportResult", "MappingReport", "NirGraphError", "NirLayer", "NirNetwork",
    "NirRun", "apply_heads", "export_heads", "export_reservoir", "parse_network", "read_graph",
    "reservoir_graph", "run_network", "run_snntorch", "spike_agreement", "write_graph",
]
