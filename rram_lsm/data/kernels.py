"""Numeric kernels of the built-in stand-in generators (numba), each with a plain numpy reference.

Kernels are pure functions of arrays and contain no randomness: every stochastic quantity
(threshold mismatch, noise events, gains) is drawn by the caller from a seeded generator and passed
in.  The ``*_reference`` functions implement the same model in plain numpy; the tests check that
kernel and reference agree.

- `saccade_log_frames` / `saccade_log_frames_reference`: log intensity of a static image seen by a
  moving sensor (bilinear sub-pixel translation), the input of the DVS pixel model.
- `dvs_events` / `dvs_events_reference`: DVS pixel model (log intensity, per-pixel ON/OFF
  thresholds, several crossings per step with interpolated timestamps, refractory period).
- `cochlea_spikes` / `cochlea_spikes_reference`: gammatone filter bank (second-order sections),
  half-wave rectification and one leaky integrate-and-fire neuron per channel (the spoken-digit
  stand-in's cochlea).

All kernels release the GIL (``nogil``) so that generator threads run them in parallel.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy import ndimage, signal

# ---------------------------------------------------------------------------------------------
# Saccade frames (log intensity)
# ---------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _saccade_kernel(padded, pad, dx, dy, out):
    n, h, w = out.shape
    for k in range(n):
        # The scene moves by (+dx, +dy) across the sensor, so sensor pixel (y, x) sees the scene
        # point (y - dy, x - dx).  A pure translation: the bilinear weights are the same for every
        # pixel of a frame.
        sy = -dy[k]
        sx = -dx[k]
        iy = int(np.floor(sy))
        ix = int(np.floor(sx))
        fy = sy - iy
        fx = sx - ix
        w00 = (1.0 - fy) * (1.0 - fx)
        w01 = (1.0 - fy) * fx
        w10 = fy * (1.0 - fx)
        w11 = fy * fx
        for y in range(h):
            r0 = y + iy + pad
            for x in range(w):
                c0 = x + ix + pad
                out[k, y, x] = (
                    w00 * padded[r0, c0]
                    + w01 * padded[r0, c0 + 1]
                    + w10 * padded[r0 + 1, c0]
                    + w11 * padded[r0 + 1, c0 + 1]
                )


def saccade_log_frames(canvas: np.ndarray, dx: np.ndarray, dy: np.ndarray, eps: float) -> np.ndarray:
    """Log intensity seen by a sensor while a static scene moves across it.

    Args:
        canvas: float [H, W], intensity (>= 0) of the scene at offset (0, 0).
        dx, dy: float [n_steps], scene offset in px (positive = right / down) at each step.
        eps: background level added before the log (log(I + eps)).

    Returns:
        float64 [n_steps, H, W]: ``log(canvas(y - dy[k], x - dx[k]) + eps)``, the canvas sampled
        bilinearly with zero outside it.
    """
    canvas = np.asarray(canvas, dtype=np.float64)
    dx = np.ascontiguousarray(dx, dtype=np.float64)
    dy = np.ascontiguousarray(dy, dtype=np.float64)
    h, w = canvas.shape
    reach = float(max(np.abs(dx).max(initial=0.0), np.abs(dy).max(initial=0.0)))
    pad = int(np.ceil(reach)) + 2
    padded = np.zeros((h + 2 * pad, w + 2 * pad), dtype=np.float64)
    padded[pad : pad + h, pad : pad + w] = canvas
    out = np.empty((dx.shape[0], h, w), dtype=np.float64)
    _saccade_kernel(padded, pad, dx, dy, out)
    out += eps
    return np.log(out, out=out)  # numpy's vectorised log is several times faster than numba's


def saccade_log_frames_reference(
    canvas: np.ndarray, dx: np.ndarray, dy: np.ndarray, eps: float
) -> np.ndarray:
    """Plain scipy reference of `saccade_log_frames` (``map_coordinates``, order 1)."""
    h, w = canvas.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.empty((len(dx), h, w))
    for k in range(len(dx)):
        out[k] = ndimage.map_coordinates(
            np.asarray(canvas, np.float64),
            [yy - dy[k], xx - dx[k]],
            order=1,
            mode="grid-constant",
            cval=0.0,
        )
    return np.log(out + eps)


# ---------------------------------------------------------------------------------------------
# DVS pixel model
# ---------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _dvs_kernel(log_frames, c_on, c_off, dt_usec, refractory_usec, ex, ey, et, ep):
    n_steps, h, w = log_frames.shape
    cap = ex.shape[0]
    l_ref = log_frames[0].copy()
    last = np.full((h, w), -(2**62), dtype=np.int64)
    n = 0
    for k in range(1, n_steps):
        t0 = (k - 1) * dt_usec
        for y in range(h):
            for x in range(w):
                l0 = log_frames[k - 1, y, x]
                l1 = log_frames[k, y, x]
                diff = l1 - l_ref[y, x]
                if diff >= c_on[y, x]:
                    c = c_on[y, x]
                    sign = 1.0
                    pol = 1
                    n_cross = int(diff / c)
                elif -diff >= c_off[y, x]:
                    c = c_off[y, x]
                    sign = -1.0
                    pol = 0
                    n_cross = int(-diff / c)
                else:
                    continue
                slope = l1 - l0
                for j in range(1, n_cross + 1):
                    level = l_ref[y, x] + sign * j * c
                    # Timestamp: where the linearly interpolated log intensity crosses the level.
                    if slope != 0.0:
                        frac = (level - l0) / slope
                    else:
                        frac = 1.0
                    if frac < 0.0:
                        frac = 0.0
                    elif frac > 1.0:
                        frac = 1.0
                    t = t0 + int(np.floor(frac * dt_usec))
                    if t - last[y, x] < refractory_usec:
                        continue  # crossing lost inside the refractory period
                    last[y, x] = t
                    if n < cap:
                        ex[n] = x
                        ey[n] = y
                        et[n] = t
                        ep[n] = pol
                    n += 1
                # The reference follows the level, including crossings lost to refractoriness.
                l_ref[y, x] += sign * n_cross * c
    return n


def _sort_events(x, y, t, p):
    order = np.lexsort((p, x, y, t))
    return x[order], y[order], t[order], p[order]


def dvs_events(
    log_frames: np.ndarray,
    c_on: np.ndarray,
    c_off: np.ndarray,
    dt_usec: int,
    refractory_usec: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """DVS events from log-intensity frames.

    Args:
        log_frames: float [n_steps, H, W], log intensity sampled every ``dt_usec`` µs (step k at
            time k·dt_usec).  Between samples the log intensity is taken as linear in time.
        c_on, c_off: float [H, W], per-pixel ON / OFF contrast thresholds (log units, > 0).
        dt_usec: step length in µs.
        refractory_usec: minimum time between two events of one pixel in µs.

    Returns:
        ``(x, y, t_usec, p)``, int64 arrays sorted by (t, y, x, p); p = 1 for ON, 0 for OFF.
    """
    log_frames = np.ascontiguousarray(log_frames, dtype=np.float64)
    c_on = np.ascontiguousarray(c_on, dtype=np.float64)
    c_off = np.ascontiguousarray(c_off, dtype=np.float64)
    if np.any(c_on <= 0) or np.any(c_off <= 0):
        raise ValueError("DVS thresholds must be > 0")
    cap = 16384
    while True:
        bufs = [np.empty(cap, dtype=np.int64) for _ in range(4)]
        n = _dvs_kernel(log_frames, c_on, c_off, int(dt_usec), int(refractory_usec), *bufs)
        if n <= cap:
            return _sort_events(*(b[:n] for b in bufs))
        cap = int(n)  # the kernel counted past the buffer: rerun with the exact size


def dvs_events_reference(
    log_frames: np.ndarray,
    c_on: np.ndarray,
    c_off: np.ndarray,
    dt_usec: int,
    refractory_usec: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Plain numpy reference of `dvs_events` (vectorised over pixels, loop over steps)."""
    log_frames = np.asarray(log_frames, dtype=np.float64)
    n_steps, h, w = log_frames.shape
    l_ref = log_frames[0].copy()
    last = np.full((h, w), -(2**62), dtype=np.int64)
    yy, xx = np.mgrid[0:h, 0:w]
    out: list[tuple[np.ndarray, ...]] = []
    for k in range(1, n_steps):
        l0, l1 = log_frames[k - 1], log_frames[k]
        diff = l1 - l_ref
        on = diff >= c_on
        off = ~on & (-diff >= c_off)
        c = np.where(on, c_on, c_off)
        sign = np.where(on, 1.0, -1.0)
        n_cross = np.where(on, np.floor(diff / c_on), np.where(off, np.floor(-diff / c_off), 0))
        n_cross = n_cross.astype(np.int64)
        slope = l1 - l0
        for j in range(1, int(n_cross.max(initial=0)) + 1):
            active = n_cross >= j
            level = l_ref + sign * j * c
            with np.errstate(divide="ignore", invalid="ignore"):
                frac = np.where(slope != 0.0, (level - l0) / slope, 1.0)
            frac = np.clip(frac, 0.0, 1.0)
            t = (k - 1) * dt_usec + np.floor(frac * dt_usec).astype(np.int64)
            emit = active & (t - last >= refractory_usec)
            last = np.where(emit, t, last)
            out.append((xx[emit], yy[emit], t[emit], on[emit].astype(np.int64)))
        l_ref = l_ref + sign * n_cross * c
    if not out:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy(), empty.copy()
    x, y, t, p = (np.concatenate([o[i] for o in out]).astype(np.int64) for i in range(4))
    return _sort_events(x, y, t, p)


# ---------------------------------------------------------------------------------------------
# Cochlea: gammatone filter bank, half-wave rectification, one LIF neuron per channel
# ---------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _cochlea_lif_kernel(wave, sos, gain, decay, threshold, refractory_steps, et, ec):
    n_ch, n_sec, _ = sos.shape
    n_t = wave.shape[0]
    cap = et.shape[0]
    # Channels in the innermost loops: the filter recursions of different channels are
    # independent, which lets the CPU overlap them (a single channel's chain is latency-bound).
    b0 = np.ascontiguousarray(sos[:, :, 0].T)
    b1 = np.ascontiguousarray(sos[:, :, 1].T)
    b2 = np.ascontiguousarray(sos[:, :, 2].T)
    a1 = np.ascontiguousarray(sos[:, :, 4].T)
    a2 = np.ascontiguousarray(sos[:, :, 5].T)
    z0 = np.zeros((n_sec, n_ch))
    z1 = np.zeros((n_sec, n_ch))
    x = np.empty(n_ch)
    v = np.zeros(n_ch)
    hold = np.zeros(n_ch, dtype=np.int64)
    n = 0
    for k in range(n_t):
        for ch in range(n_ch):
            x[ch] = wave[k]
        # Cascade of second-order sections, transposed direct form II (as scipy's sosfilt).
        for s in range(n_sec):
            for ch in range(n_ch):
                xc = x[ch]
                y = b0[s, ch] * xc + z0[s, ch]
                z0[s, ch] = b1[s, ch] * xc - a1[s, ch] * y + z1[s, ch]
                z1[s, ch] = b2[s, ch] * xc - a2[s, ch] * y
                x[ch] = y
        for ch in range(n_ch):
            if hold[ch] > 0:
                hold[ch] -= 1
                continue
            drive = gain[ch] * x[ch] if x[ch] > 0.0 else 0.0
            v[ch] = decay * v[ch] + (1.0 - decay) * drive
            if v[ch] >= threshold[ch]:
                if n < cap:
                    et[n] = k
                    ec[n] = ch
                n += 1
                v[ch] = 0.0
                hold[ch] = refractory_steps
    return n


def cochlea_spikes(
    wave: np.ndarray,
    sos: np.ndarray,
    gain: np.ndarray,
    decay: float,
    threshold: np.ndarray,
    refractory_steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Spikes of a filter-bank cochlea with one LIF neuron per channel.

    Channel ``ch`` filters ``wave`` with its second-order sections ``sos[ch]``, half-wave
    rectifies and scales by ``gain[ch]`` into the drive of a neuron
    ``v[k] = decay·v[k-1] + (1 - decay)·drive[k]``; at ``v >= threshold[ch]`` it spikes, resets
    to 0 and ignores its input for ``refractory_steps`` samples.

    Args:
        wave: float [n_samples], the sound.
        sos: float [n_channels, n_sections, 6], scipy-style second-order sections.
        gain, threshold: float [n_channels].
        decay: exp(-1 / (tau · fs)), in (0, 1).
        refractory_steps: dead time after a spike, in samples.

    Returns:
        ``(sample_index, channel)``, int64 arrays sorted by (sample, channel).
    """
    wave = np.ascontiguousarray(wave, dtype=np.float64)
    sos = np.ascontiguousarray(sos, dtype=np.float64)
    gain = np.ascontiguousarray(gain, dtype=np.float64)
    threshold = np.ascontiguousarray(threshold, dtype=np.float64)
    cap = 8192
    while True:
        et = np.empty(cap, dtype=np.int64)
        ec = np.empty(cap, dtype=np.int64)
        n = _cochlea_lif_kernel(wave, sos, gain, float(decay), threshold, int(refractory_steps), et, ec)
        if n <= cap:
            et, ec = et[:n], ec[:n]
            order = np.lexsort((ec, et))
            return et[order], ec[order]
        cap = int(n)


def cochlea_spikes_reference(
    wave: np.ndarray,
    sos: np.ndarray,
    gain: np.ndarray,
    decay: float,
    threshold: np.ndarray,
    refractory_steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Plain numpy/scipy reference of `cochlea_spikes` (sosfilt, then a vectorised LIF)."""
    wave = np.asarray(wave, dtype=np.float64)
    drive = np.stack([signal.sosfilt(s, wave) for s in np.array(sos, np.float64)])
    drive = np.maximum(drive, 0.0) * np.asarray(gain, np.float64)[:, None]
    n_ch, n_t = drive.shape
    v = np.zeros(n_ch)
    hold = np.zeros(n_ch, dtype=np.int64)
    steps, chans = [], []
    for k in range(n_t):
        free = hold == 0
        hold[~free] -= 1
        v = np.where(free, decay * v + (1.0 - decay) * drive[:, k], v)
        spike = free & (v >= threshold)
        idx = np.flatnonzero(spike)
        steps.append(np.full(idx.size, k, dtype=np.int64))
        chans.append(idx.astype(np.int64))
        v[spike] = 0.0
        hold[spike] = refractory_steps
    return np.concatenate(steps), np.concatenate(chans)
