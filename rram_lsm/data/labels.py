"""Class label maps of the spoken-digit data (N-TIDIGITS and the spoken-digits stand-in).

N-TIDIGITS has 11 words: "oh", "one" … "nine", "zero".  Two integer codings are in use:

- ``"paper"`` (default; the authors' code): "z" (zero) → 0, "1"…"9" → 1…9, "o" (oh) → 10.
- ``"tonic"`` (``tonic.datasets.NTIDIGITS18.class_map``): "o" (oh) → 0, "1"…"9" → 1…9,
  "z" (zero) → 10.

Image data (N-MNIST, digits-dvs) always use the digit itself (map name ``"digit"``).  Every
loaded split records the map it used (`BinnedSplit.label_map`).
"""

from __future__ import annotations

from rram_lsm.errors import ConfigError

WORDS = {
    "o": "oh",
    "z": "zero",
    "1": "one",
    "2": "two",
    "3": "three",
    "4": "four",
    "5": "five",
    "6": "six",
    "7": "seven",
    "8": "eight",
    "9": "nine",
}

LABEL_MAPS: dict[str, dict[str, int]] = {
    "paper": {"z": 0, **{str(d): d for d in range(1, 10)}, "o": 10},
    "tonic": {"o": 0, **{str(d): d for d in range(1, 10)}, "z": 10},
}

IMAGE_LABEL_MAP = "digit"
IMAGE_CLASS_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def check_label_map(name: str) -> dict[str, int]:
    """The mapping digit character → class id for ``name``; `ConfigError` if unknown."""
    try:
        return LABEL_MAPS[name]
    except KeyError:
        raise ConfigError(
            f"label_map: {name!r} is not a known label map; choose one of {sorted(LABEL_MAPS)}"
        ) from None


def audio_class_names(label_map: str) -> tuple[str, ...]:
    """Word of each class id (index = class id) under ``label_map``."""
    mapping = check_label_map(label_map)
    names = [""] * len(mapping)
    for char, idx in mapping.items():
        names[idx] = WORDS[char]
    return tuple(names)


def tonic_to(label_map: str, tonic_label: int) -> int:
    """Convert a class id of tonic's map into the class id of ``label_map``."""
    mapping = check_label_map(label_map)
    char = next(c for c, i in LABEL_MAPS["tonic"].items() if i == tonic_label)
    return mapping[char]
