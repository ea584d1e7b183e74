"""test/fixtures/npy/: one 2x3x4 array as numpy writes it in the dtypes and orders pss reads
(test/io/npy.test.ts): float32, float64 (numpy's default), float16, big-endian float32, and
Fortran order. The values are exact in float16, so every file holds the same numbers."""

import os

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "npy")
os.makedirs(OUT, exist_ok=True)
x = (np.arange(24, dtype=np.float64).reshape(2, 3, 4) - 11.5) / 8  # multiples of 1/16
for name, a in {
    "float32": x.astype("<f4"),
    "float64": x,
    "float16": x.astype("<f2"),
    "float32-big-endian": x.astype(">f4"),
    "float64-fortran": np.asfortranarray(x),
}.items():
    np.save(os.path.join(OUT, f"{name}.npy"), a)
    print(name, a.dtype.str, "fortran" if a.flags.f_contiguous and not a.flags.c_contiguous else "C")
