"""One compiled pass for small Erlang C service-level calls (a staffing table's few hundred
points): validation, the Erlang C sums and the service level together, so the per-call cost
is a few array conversions rather than dozens of NumPy passes. Anything unusual (invalid
input, fractional agents, large loads, arrays above ``MAX_SIZE``) returns None and the
caller takes the general, validating path, which raises the typed errors."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from openwfm.queueing import _core

MAX_SIZE = 8_192
_FLOATS = (float, int, np.floating, np.integer)


@njit(cache=True, nogil=True, error_model="numpy")
def _service_level_kernel(a, n, h, t, out, fallback) -> int:
    """Fills ``out`` (and ``fallback``: the elements left to the general path); returns how
    many were left, or -1 for an input the general path must reject."""
    size = a.size
    for i in range(size):
        # NaN fails every comparison; infinite target time is allowed
        if not (0.0 <= a[i] < np.inf and 0.0 <= n[i] < np.inf and 0.0 < h[i] < np.inf):
            return -1
        if not t[i] >= 0.0:
            return -1
    c = np.empty(size)
    not_c = np.empty(size)
    _core._erlang_c_chunk(a, n, c, not_c, fallback, 0, size)
    left = 0
    for i in range(size):
        if fallback[i]:
            left += 1
            continue
        if a[i] == 0.0:
            out[i] = 1.0
        elif n[i] <= a[i]:
            out[i] = 0.0
        else:
            if t[i] == np.inf:
                decay = 1.0
            else:
                decay = -math.expm1(-(n[i] - a[i]) / h[i] * t[i])
            out[i] = min(not_c[i] + c[i] * decay, 1.0)
    return left


def _flat(value, shape, size):
    if isinstance(value, np.ndarray):
        if value.shape == shape and value.dtype == np.float64 and value.flags.c_contiguous:
            return value.reshape(size)  # (a view: the kernel only reads it)
        array = value.astype(np.float64, copy=False)
        if array.shape != shape:
            array = np.broadcast_to(array, shape)
        return np.ascontiguousarray(array).reshape(size)
    return np.full(size, float(value))


def _shape(values):
    """The broadcast shape (None when the values do not broadcast): the common cases (arrays
    of one shape and plain numbers) without NumPy's general rule."""
    shapes = {v.shape for v in values if isinstance(v, np.ndarray)}
    if len(shapes) == 1:
        shape = shapes.pop()
        if shape:
            return shape
    try:
        return np.broadcast_shapes(*(np.shape(v) for v in values))
    except ValueError:
        return None


def service_level(traffic, agents, aht_s, target_s, general):
    """Erlang C service level through the compiled pass, or None (see the module doc).
    ``general(a, n, h, t)`` computes the elements the pass leaves (1-d float arrays)."""
    values = (traffic, agents, aht_s, target_s)
    for v in values:
        if not (isinstance(v, np.ndarray) and v.dtype.kind in "fiu") and not isinstance(v, _FLOATS):
            return None
    shape = _shape(values)
    if shape is None:
        return None
    size = math.prod(shape)
    if size == 0 or size > MAX_SIZE or not shape:
        return None
    a, n, h, t = (_flat(v, shape, size) for v in values)
    out = np.empty(size)
    fallback = np.zeros(size, dtype=np.bool_)
    left = _service_level_kernel(a, n, h, t, out, fallback)
    if left < 0:
        return None
    if left:
        out[fallback] = general(a[fallback], n[fallback], h[fallback], t[fallback])
    return out.reshape(shape)
