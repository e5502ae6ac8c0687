"""The BMI task's built-in stand-ins, generated offline in the real data's formats.

``<root>/neural-handwriting/singleLetters.mat`` (Willett et al. 2021 layout; per letter the
training writers' trials come first, then the test writers', so that the real reader's
"last trials are the test trials" split separates writers) and
``<root>/letters/emnist-letters-{train,test}-{images-idx3,labels-idx1}-ubyte.gz`` (E-MNIST
letters layout). Train and test writers are disjoint; the image fonts are disjoint from the
pen-path fonts. A ``manifest.json`` in each folder records the generator settings; a folder
whose manifest differs from the requested settings is regenerated.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from crossbar.fsio import atomic_write_json
from rram_lsm.data import emnist, handwriting, letters, willett

NEURAL_DIR = "neural-handwriting"
LETTERS_DIR = "letters"


class BmiStandinConfig(BaseModel):
    """Sizes (per letter) and seeds of the stand-ins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    neural_train_per_class: int = Field(48, ge=1, le=10_000)
    neural_test_per_class: int = Field(16, ge=1, le=10_000)
    image_train_per_class: int = Field(48, ge=1, le=10_000)
    image_test_per_class: int = Field(16, ge=1, le=10_000)
    train_writers: int = Field(12, ge=1, le=10_000)
    test_writers: int = Field(4, ge=1, le=10_000)
    n_bins: int = Field(201, ge=50, le=2000)
    seed: int = Field(0, ge=0)

    @property
    def test_fraction(self) -> float:
        """Fraction of each letter's neural trials that are test trials (the last ones)."""
        return self.neural_test_per_class / (self.neural_train_per_class + self.neural_test_per_class)


def _manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def build_neural(folder: Path, cfg: BmiStandinConfig) -> float:
    """Write the neural stand-in; returns seconds per 1,000 trials."""
    import numpy as np

    t0 = time.perf_counter()
    pop = handwriting.make_population(cfg.seed)
    s = cfg.seed * 1000
    tr = handwriting.simulate_trials(cfg.neural_train_per_class,
                                     handwriting.writers(cfg.train_writers, handwriting.PEN_FONTS, s + 1),
                                     pop, s + 2, cfg.n_bins)
    te = handwriting.simulate_trials(cfg.neural_test_per_class,
                                     handwriting.writers(cfg.test_writers, handwriting.PEN_FONTS, s + 3),
                                     pop, s + 4, cfg.n_bins)
    cubes = {ch: np.concatenate([tr[ch], te[ch]]) for ch in handwriting.LETTERS}
    willett.write_single_letters(folder / willett.FILE_NAME, cubes)
    n = 26 * (cfg.neural_train_per_class + cfg.neural_test_per_class)
    return (time.perf_counter() - t0) / n * 1000


def build_letters(folder: Path, cfg: BmiStandinConfig) -> float:
    """Write the image stand-in; returns seconds per 1,000 images."""
    t0 = time.perf_counter()
    s = cfg.seed * 1000
    for split, per, nw, seed in (("train", cfg.image_train_per_class, cfg.train_writers, s + 5),
                                 ("test", cfg.image_test_per_class, cfg.test_writers, s + 7)):
        wr = letters.image_writers(nw, letters.IMAGE_FONTS, seed)
        imgs, labels = letters.render_letters(per, wr, seed + 1)
        emnist.write_emnist_letters(folder, split, imgs, labels, gz=True)
    n = 26 * (cfg.image_train_per_class + cfg.image_test_per_class)
    return (time.perf_counter() - t0) / n * 1000


def ensure_bmi_builtin(root: str | os.PathLike, cfg: BmiStandinConfig | None = None,
                       progress: bool = False) -> dict[str, Path]:
    """Generate the stand-ins under ``root`` unless present with the same settings.
    Returns {'neural': path of singleLetters.mat, 'letters': E-MNIST folder}."""
    cfg = cfg or BmiStandinConfig()
    root = Path(root)
    want = cfg.model_dump()
    out = {}
    for name, sub, build in (("neural", NEURAL_DIR, build_neural),
                             ("letters", LETTERS_DIR, build_letters)):
        folder = root / sub
        man = _manifest(folder)
        if man is None or man.get("config") != want:
            folder.mkdir(parents=True, exist_ok=True)
            if progress:
                print(f"generating the {sub} stand-in in {folder} ...", flush=True)
            sec = build(folder, cfg)
            atomic_write_json(folder / "manifest.json",
                              {"dataset": sub, "config": want, "seconds_per_1000": sec})
        out[name] = folder / willett.FILE_NAME if name == "neural" else folder
    return out
