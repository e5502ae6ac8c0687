"""numba kernels of the stand-in generators agree with their plain numpy references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from rram_lsm.data.cochlea import erb_space, gammatone_sos
from rram_lsm.data.kernels import (
    cochlea_spikes,
    cochlea_spikes_reference,
    dvs_events,
    dvs_events_reference,
    saccade_log_frames,
    saccade_log_frames_reference,
)


@pytest.mark.parametrize("seed", [0, 1])
def test_saccade_frames_match_reference(seed):
    rng = np.random.default_rng(seed)
    canvas = np.zeros((14, 12))
    canvas[3:9, 2:10] = rng.random((6, 8))
    dx = np.linspace(0.0, 3.3, 25) * (1 if seed else -1)
    dy = np.linspace(0.0, -2.7, 25)
    ours = saccade_log_frames(canvas, dx, dy, 0.3)
    ref = saccade_log_frames_reference(canvas, dx, dy, 0.3)
    assert ours.shape == (25, 14, 12)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


def test_saccade_moves_scene_right_and_down():
    canvas = np.zeros((10, 10))
    canvas[2, 3] = 1.0
    frames = np.exp(saccade_log_frames(canvas, np.array([0.0, 2.0]), np.array([0.0, 1.0]), 1.0))
    assert frames[1, 3, 5] == pytest.approx(2.0)  # (y, x) = (2 + 1, 3 + 2)


@pytest.mark.parametrize("refractory_usec", [0, 300, 1500])
def test_dvs_kernel_matches_reference(refractory_usec):
    rng = np.random.default_rng(refractory_usec)
    base = rng.random((9, 11))
    steps = np.linspace(0, 1, 30)[:, None, None]
    # Smoothly moving intensities with a few large jumps (several crossings in one step).
    log_frames = np.log(0.3 + base * (1 + np.sin(6 * steps + base * 3)))
    log_frames[10:, 4, 5] += 1.1
    c_on = rng.uniform(0.1, 0.3, (9, 11))
    c_off = rng.uniform(0.1, 0.3, (9, 11))
    ours = dvs_events(log_frames, c_on, c_off, 1000, refractory_usec)
    ref = dvs_events_reference(log_frames, c_on, c_off, 1000, refractory_usec)
    assert len(ours[0]) > 50
    for a, b in zip(ours, ref, strict=True):
        np.testing.assert_array_equal(a, b)
    x, y, t, p = ours
    assert np.all(np.diff(t) >= 0) and set(np.unique(p)) <= {0, 1}


def test_dvs_single_ramp_by_hand():
    # One pixel whose log intensity rises by 0.5 in one 1 ms step with threshold 0.2: two ON
    # crossings, at 0.2/0.5 and 0.4/0.5 of the step.
    log_frames = np.array([[[0.0]], [[0.5]]])
    c = np.array([[0.2]])
    x, y, t, p = dvs_events(log_frames, c, c, 1000, 0)
    assert t.tolist() == [400, 800] and p.tolist() == [1, 1]
    x, y, t, p = dvs_events(log_frames, c, c, 1000, 500)  # the second falls in the dead time
    assert t.tolist() == [400]
    x, y, t, p = dvs_events(-log_frames, c, c, 1000, 0)
    assert p.tolist() == [0, 0]


def test_dvs_buffer_growth():
    # Many events: more than the kernel's first buffer, forcing the retry path.
    rng = np.random.default_rng(3)
    log_frames = rng.normal(0, 1.0, (8, 24, 24))
    c = np.full((24, 24), 0.1)
    ours = dvs_events(log_frames, c, c, 1000, 0)
    assert len(ours[0]) > 16384
    ref = dvs_events_reference(log_frames, c, c, 1000, 0)
    for a, b in zip(ours, ref, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("refractory_steps", [0, 20])
def test_cochlea_kernel_matches_reference(refractory_steps):
    rng = np.random.default_rng(refractory_steps)
    sos = gammatone_sos(16_000.0, 200.0, 6_000.0, 8)
    wave = rng.normal(0.0, 0.05, 4_000)
    gain = rng.uniform(500, 900, 8)
    threshold = rng.uniform(0.9, 1.1, 8)
    ours = cochlea_spikes(wave, sos, gain, 0.98, threshold, refractory_steps)
    ref = cochlea_spikes_reference(wave, sos, gain, 0.98, threshold, refractory_steps)
    assert len(ours[0]) > 100
    for a, b in zip(ours, ref, strict=True):
        np.testing.assert_array_equal(a, b)


def test_gammatone_bank_is_erb_spaced_with_unit_peak_gain():
    cf = erb_space(100.0, 7000.0, 64)
    assert cf[0] == pytest.approx(100.0) and cf[-1] == pytest.approx(7000.0)
    assert np.all(np.diff(cf) > 0)
    sos = gammatone_sos(22_050.0, 100.0, 7000.0, 64)
    assert sos.shape[0] == 64 and sos.shape[2] == 6
    for ch in (10, 40, 63):
        w, h = signal.sosfreqz(sos[ch], worN=16384, fs=22_050.0)
        assert w[np.argmax(np.abs(h))] == pytest.approx(cf[ch], rel=0.02)
        assert np.abs(h).max() == pytest.approx(1.0, abs=0.05)
    with pytest.raises(ValueError, match="Nyquist"):
        gammatone_sos(8_000.0, 100.0, 7000.0, 4)
