"""Events → the paper's binary frames.

- Image (N-MNIST, digits-dvs): tonic ``CenterCrop`` of the 34 × 34 sensor, one polarity, tonic
  ``ToFrame`` with fixed time bins → uint8 [T, crop·crop], flattened row-major (index y·crop + x).
- Audio (N-TIDIGITS, spoken-digits): ``"paper"`` scheme — 1 ms bins over [0, last event], then
  ``torch.chunk`` into T chunks (per-utterance time normalisation), OR within a chunk, zero-padded;
  ``"fixed"`` scheme — tonic ``ToFrame`` with T bins of fixed width from t = 0.
  → uint8 [T, n_channels].

Event arrays are tonic's structured arrays (fields x, y, t, p for images; t, x, p for audio; t in
µs) sorted by time.
"""

from __future__ import annotations

import numpy as np

from rram_lsm.data.config import AudioBinning, ImageBinning
from rram_lsm.data.formats import NMNIST_SIZE


def bin_image_events(events: np.ndarray, cfg: ImageBinning) -> np.ndarray:
    """Binary frames uint8 [cfg.n_time_bins, cfg.crop²] from N-MNIST-style events."""
    from tonic.transforms import CenterCrop, ToFrame

    n_t, crop = cfg.n_time_bins, cfg.crop
    out = np.zeros((n_t, crop * crop), dtype=np.uint8)
    if len(events) == 0:
        return out
    cropped = CenterCrop(sensor_size=(NMNIST_SIZE, NMNIST_SIZE, 2), size=crop)(events)
    kept = cropped[cropped["p"] == cfg.polarity]  # boolean indexing copies: safe to edit below
    if len(kept) == 0:
        return out
    to_frame = ToFrame(
        sensor_size=(crop, crop, 1),
        time_window=cfg.bin_usec,
        start_time=cfg.t_start_usec,
        end_time=cfg.t_start_usec + n_t * cfg.bin_usec,
    )
    frames = to_frame(kept)  # [T, 1, crop(y), crop(x)] counts
    out[:] = (frames.reshape(n_t, crop * crop) > 0).astype(np.uint8)
    return out


def bin_audio_events(events: np.ndarray, cfg: AudioBinning) -> np.ndarray:
    """Binary frames uint8 [cfg.n_time_bins, cfg.n_channels] from N-TIDIGITS-style events."""
    if cfg.scheme == "paper":
        return _bin_audio_paper(events["t"], events["x"], cfg)
    return _bin_audio_fixed(events, cfg)


def _bin_audio_paper(t_usec: np.ndarray, ch: np.ndarray, cfg: AudioBinning) -> np.ndarray:
    n_t = cfg.n_time_bins
    out = np.zeros((n_t, cfg.n_channels), dtype=np.uint8)
    if len(t_usec) == 0:
        return out
    # Fine bins of base_bin_usec over [0, last event]: bin k holds k·w <= t < (k+1)·w.
    fine = np.asarray(t_usec, dtype=np.int64) // cfg.base_bin_usec
    n_fine = int(fine.max()) + 1
    # torch.chunk(x, n_t) uses chunks of ceil(n_fine / n_t) bins (the last may be shorter), so an
    # utterance of fewer than n_t·(chunk) bins yields fewer than n_t chunks: zero-padded here.
    chunk = -(-n_fine // n_t)
    out[fine // chunk, np.asarray(ch, dtype=np.int64)] = 1
    return out


def _bin_audio_fixed(events: np.ndarray, cfg: AudioBinning) -> np.ndarray:
    from tonic.transforms import ToFrame

    n_t, n_ch = cfg.n_time_bins, cfg.n_channels
    out = np.zeros((n_t, n_ch), dtype=np.uint8)
    if len(events) == 0:
        return out
    ev = events.copy()  # ToFrame sets p = 0 in place for a single-polarity sensor
    frames = ToFrame(
        sensor_size=(n_ch, 1, 1), time_window=cfg.bin_usec, start_time=0, end_time=n_t * cfg.bin_usec
    )(ev)  # [T, 1, n_ch]
    out[:] = (frames.reshape(n_t, n_ch) > 0).astype(np.uint8)
    return out


def chunk_reference(binary_1ms: np.ndarray, n_chunks: int) -> np.ndarray:
    """The paper's chunking done literally with ``torch.chunk`` (used by tests as the oracle).

    ``binary_1ms``: [n_channels, n_fine] 0/1 → [n_chunks, n_channels] uint8.
    """
    import torch

    x = torch.as_tensor(np.asarray(binary_1ms, dtype=np.float32))
    parts = torch.chunk(x, n_chunks, dim=1)
    out = np.zeros((n_chunks, x.shape[0]), dtype=np.uint8)
    for i, part in enumerate(parts):
        out[i] = (part.sum(dim=1) > 0).numpy().astype(np.uint8)
    return out
