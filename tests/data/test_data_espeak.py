"""libespeak-ng through ctypes (espeakng-loader): voices, synthesis, deterministic blocks."""

from __future__ import annotations

import numpy as np
import pytest

from rram_lsm.data.espeak import synthesise_blocks, variant_gender, variant_names
from rram_lsm.errors import DataError


def test_voice_variants_and_gender():
    names = variant_names()
    assert len(names) > 50 and {"f3", "m3", "klatt"} <= set(names)
    assert variant_gender("f3") == "woman" and variant_gender("m3") == "man"


def test_synthesis_is_speech_like_and_deterministic():
    req = [
        {
            "text": "seven",
            "voice": "en-us",
            "variant": "f3",
            "rate_wpm": 150,
            "pitch": 60,
            "pitch_range": 50,
            "rand_seed": 1,
        },
        {
            "text": "oh",
            "voice": "en-gb-scotland",
            "variant": "Demonic",
            "rate_wpm": 120,
            "pitch": 30,
            "pitch_range": 40,
            "rand_seed": 2,
        },  # a breathy voice: noise is seeded
    ]
    fs, waves = synthesise_blocks(req, block_size=2)
    assert fs == 22050 and len(waves) == 2
    for w in waves:
        assert w.dtype == np.float32 and 0.15 < w.size / fs < 2.0
        assert 0.01 < np.sqrt(np.mean(w**2)) < 1.0 and np.abs(w).max() <= 1.0
    _, again = synthesise_blocks(req, block_size=2, n_workers=2)
    assert all(np.array_equal(a, b) for a, b in zip(waves, again, strict=True))


def test_unknown_voice_is_a_clear_error():
    req = [{"text": "one", "voice": "xx-nowhere", "variant": None}]
    with pytest.raises(DataError, match="espeak voice 'xx-nowhere' not found"):
        synthesise_blocks(req, block_size=1)
    with pytest.raises(DataError, match="variant 'nobody' not found"):
        synthesise_blocks([{"text": "one", "variant": "nobody"}], block_size=1)
