"""Energy / latency ledger of a macro: every MVM, cell read, ADC conversion and write pulse."""

from __future__ import annotations

from dataclasses import dataclass, field

_COUNTERS = (
    "mvm_calls", "vectors", "cell_reads", "wordline_activations", "adc_conversions",
    "write_pulses", "verify_reads",
)
_ENERGIES = ("cell_read", "wordline", "adc", "write", "verify_read")


@dataclass
class Ledger:
    """Counts operations and accumulates energy (J) and busy time (s) per operation kind."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTERS, 0))
    energy_j: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_ENERGIES, 0.0))
    time_s: dict[str, float] = field(default_factory=lambda: {"mvm": 0.0, "write": 0.0})

    def add_mvm(self, *, vectors: int, cell_reads: int, wordlines: int, conversions: int,
                e_cell_read: float, e_wordline: float, e_adc: float, t_s: float,
                calls: int = 1) -> None:
        c = self.counts
        c["mvm_calls"] += int(calls)
        c["vectors"] += int(vectors)
        c["cell_reads"] += int(cell_reads)
        c["wordline_activations"] += int(wordlines)
        c["adc_conversions"] += int(conversions)
        self.energy_j["cell_read"] += float(e_cell_read)
        self.energy_j["wordline"] += float(e_wordline)
        self.energy_j["adc"] += float(e_adc)
        self.time_s["mvm"] += float(t_s)

    def add_writes(self, *, pulses: int, reads: int, e_write: float, e_read: float,
                   t_s: float) -> None:
        self.counts["write_pulses"] += int(pulses)
        self.counts["verify_reads"] += int(reads)
        self.energy_j["write"] += float(e_write)
        self.energy_j["verify_read"] += float(e_read)
        self.time_s["write"] += float(t_s)

    @property
    def total_energy_j(self) -> float:
        return float(sum(self.energy_j.values()))

    @property
    def total_time_s(self) -> float:
        return float(sum(self.time_s.values()))

    def merge(self, other: Ledger) -> None:
        for k, v in other.counts.items():
            self.counts[k] = self.counts.get(k, 0) + v
        for k, v in other.energy_j.items():
            self.energy_j[k] = self.energy_j.get(k, 0.0) + v
        for k, v in other.time_s.items():
            self.time_s[k] = self.time_s.get(k, 0.0) + v

    def reset(self) -> None:
        for k in self.counts:
            self.counts[k] = 0
        for k in self.energy_j:
            self.energy_j[k] = 0.0
        for k in self.time_s:
            self.time_s[k] = 0.0

    def report(self) -> dict:
        """Totals and per-operation breakdown, JSON-ready."""
        return {
            "total_energy_j": self.total_energy_j,
            "total_time_s": self.total_time_s,
            "energy_j": dict(self.energy_j),
            "time_s": dict(self.time_s),
            "counts": dict(self.counts),
        }
