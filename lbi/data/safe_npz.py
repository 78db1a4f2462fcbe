"""Reads the lifting literature's ``.npz`` files without unpickling arbitrary objects.

``data_3d_h36m.npz`` and ``data_2d_h36m_*.npz`` store nested dicts as pickled object arrays, which
``np.load(allow_pickle=True)`` would unpickle with full power. This reader unpickles them with an
allow-list: NumPy arrays, dtypes and scalars, plus the plain containers pickle builds itself.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np

from .format import DatasetError

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("collections", "OrderedDict"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")


def load_npz(path: str | Path) -> dict[str, object]:
    """All arrays of an .npz; object arrays holding one pickled value (a dict) are unwrapped."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"file not found: {path}")
    out: dict[str, object] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                key = member[:-4] if member.endswith(".npy") else member
                with archive.open(member) as fp:
                    version = np.lib.format.read_magic(fp)
                    read_header = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, fortran, dtype = read_header(fp)
                    if dtype.hasobject:
                        value = _RestrictedUnpickler(fp).load()
                        out[key] = value.item() if isinstance(value, np.ndarray) and value.shape == () else value
                    else:
                        data = np.frombuffer(fp.read(), dtype=dtype)
                        out[key] = data.reshape(shape, order="F" if fortran else "C")
    except (zipfile.BadZipFile, ValueError, EOFError, pickle.UnpicklingError) as err:
        raise DatasetError(f"{path}: not a readable .npz of arrays and dicts ({err})") from err
    return out
