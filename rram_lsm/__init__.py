"""rram-lsm: a resistive-memory zero-shot liquid state machine simulator.

Reimplements the system of Lin et al., "Resistive memory-based zero-shot liquid state machine for
multimodal event data learning", Nat. Comput. Sci. 5, 37-47 (2025), arXiv:2307.00771.
"""

__version__ = "0.1.0"
