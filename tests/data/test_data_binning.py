"""Binning to the paper's frames: shapes and values against hand-computed small cases."""

from __future__ import annotations

import numpy as np
import pytest

from rram_lsm.data.binning import bin_audio_events, bin_image_events, chunk_reference
from rram_lsm.data.config import AudioBinning, ImageBinning

IMG = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])
AUD = np.dtype([("t", int), ("x", int), ("p", int)])


def _img(rows):
    rows = sorted(rows, key=lambda r: r[2])
    return np.array(rows, dtype=IMG)


def test_image_binning_hand_case():
    cfg = ImageBinning()  # polarity 0, crop 16 (pixels 9..24), T = 50 bins of 6 ms
    ev = _img(
        [
            (9, 9, 0, 0),  # top-left of the crop, first bin          -> [0, 0]
            (24, 10, 6_000, 0),  # bin 1, row 1, col 15                     -> [1, 31]
            (24, 10, 6_500, 0),  # same pixel and bin again: still 1 (binary)
            (12, 20, 299_999, 0),  # last bin, row 11, col 3                  -> [49, 179]
            (12, 20, 150_000, 1),  # ON event: other polarity, dropped
            (8, 12, 10, 0),  # x = 8 is outside the crop
            (12, 25, 10, 0),  # y = 25 is outside the crop
            (12, 12, 300_000, 0),  # t = 300 ms is past the last bin
        ]
    )
    frames = bin_image_events(ev, cfg)
    assert frames.shape == (50, 256) and frames.dtype == np.uint8
    expected = np.zeros((50, 256), np.uint8)
    expected[0, 0] = expected[1, 31] = expected[49, 179] = 1
    np.testing.assert_array_equal(frames, expected)


def test_image_binning_other_polarity_and_crop():
    ev = _img([(12, 20, 150_000, 1), (0, 0, 0, 1), (33, 33, 1, 1)])
    frames = bin_image_events(ev, ImageBinning(polarity=1))
    assert frames.sum() == 1 and frames[25, 11 * 16 + 3] == 1
    full = bin_image_events(ev, ImageBinning(polarity=1, crop=34, n_time_bins=2, bin_usec=200_000))
    assert full.shape == (2, 34 * 34)
    assert full[0, 0] == 1 and full[0, 33 * 34 + 33] == 1 and full[0, 20 * 34 + 12] == 1


def test_image_binning_empty():
    assert bin_image_events(np.zeros(0, IMG), ImageBinning()).sum() == 0
    only_on = _img([(12, 12, 5, 1)])
    assert bin_image_events(only_on, ImageBinning()).shape == (50, 256)


def test_audio_paper_scheme_hand_case():
    cfg = AudioBinning(n_time_bins=4, n_channels=3)
    # last event at 9.999 ms -> 10 fine 1 ms bins -> chunks of ceil(10 / 4) = 3 bins:
    # [0,3) ms -> 0, [3,6) -> 1, [6,9) -> 2, [9,10) -> 3.
    ev = np.array([(0, 0, 1), (1_500, 1, 1), (2_999, 1, 1), (3_000, 2, 1), (9_999, 2, 1)], AUD)
    frames = bin_audio_events(ev, cfg)
    expected = np.zeros((4, 3), np.uint8)
    expected[0, 0] = expected[0, 1] = expected[1, 2] = expected[3, 2] = 1
    np.testing.assert_array_equal(frames, expected)


def test_audio_paper_scheme_short_utterance_is_zero_padded():
    # 130 fine bins into 129 chunks: torch.chunk makes 65 chunks of 2 bins; the rest is padding.
    cfg = AudioBinning()
    ev = np.array([(0, 0, 1), (129_500, 63, 1)], AUD)
    frames = bin_audio_events(ev, cfg)
    assert frames.shape == (129, 64)
    assert frames[0, 0] == 1 and frames[64, 63] == 1 and frames.sum() == 2


@pytest.mark.parametrize("n_fine", [1, 7, 128, 129, 130, 387, 1000, 1291])
def test_audio_paper_scheme_matches_torch_chunk(n_fine):
    rng = np.random.default_rng(n_fine)
    n_ch, n_t = 8, 129
    n = 3 * n_fine
    t = np.sort(rng.integers(0, n_fine * 1000, n))
    t[-1] = n_fine * 1000 - 1  # make the last event define the length exactly
    ch = rng.integers(0, n_ch, n)
    fine = np.zeros((n_ch, n_fine), np.uint8)
    fine[ch, t // 1000] = 1
    ev = np.zeros(n, AUD)
    ev["t"], ev["x"], ev["p"] = t, ch, 1
    ours = bin_audio_events(ev, AudioBinning(n_channels=n_ch, n_time_bins=n_t))
    np.testing.assert_array_equal(ours, chunk_reference(fine, n_t))


def test_audio_fixed_scheme_hand_case():
    cfg = AudioBinning(scheme="fixed", n_time_bins=3, bin_usec=10_000, n_channels=4)
    ev = np.array([(5_000, 1, 1), (9_999, 1, 1), (10_000, 3, 1), (25_000, 0, 1), (30_000, 2, 1)], AUD)
    frames = bin_audio_events(ev, cfg)
    expected = np.zeros((3, 4), np.uint8)
    expected[0, 1] = expected[1, 3] = expected[2, 0] = 1  # t = 30 ms lies past the 3 bins
    np.testing.assert_array_equal(frames, expected)
    assert ev["p"].tolist() == [1] * 5  # the caller's events are not modified


def test_audio_empty():
    for scheme in ("paper", "fixed"):
        frames = bin_audio_events(np.zeros(0, AUD), AudioBinning(scheme=scheme))
        assert frames.shape == (129, 64) and frames.sum() == 0
