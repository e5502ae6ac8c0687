"""`rram-lsm sweep`: a co-design sweep over experiment configs, run as Ray tasks.

spec (the validated YAML sweep spec) -> plan (one trial per resolved config, keyed by its hash)
-> engine (Ray or serial execution of `point.run_point`) -> table (results.csv, appended per trial)
-> report (sweep.md and figures, from the table alone).
"""

from rram_lsm.sweep.spec import SweepSpec, load_sweep_spec

__all__ = ["SweepSpec", "load_sweep_spec"]
