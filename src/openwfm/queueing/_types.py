"""Type aliases of the queueing API: every numeric input broadcasts (a number or an array,
``ArrayLike``); outputs are NumPy arrays of the broadcast shape, NumPy scalars for scalar
input (``Values``)."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
from numpy.typing import ArrayLike

Values: TypeAlias = np.ndarray | np.generic

__all__ = ["ArrayLike", "Values"]
