"""Data sets in one prepared on-disk format (see :mod:`lbi.data.format`: its reader and writer). The network
never runs here (the frozen-encoder feature cache lives in :mod:`train.core.features`).

- :mod:`lbi.data.h36m`: Human3.6M original release + common pose files -> prepared format
- :mod:`lbi.data.mpi_inf_3dhp`: the 3DHP test set (HDF5 .mat) -> prepared format
- :mod:`lbi.data.synth`: LBI-Synth's generator, rendered offline, written in the same format (its extra:
  ``pip install lbi[synth]``)
- :mod:`lbi.data.dataset`: ``PoseDataset`` (PyTorch), encoded by the model's input codec
"""

from .dataset import PoseDataset
from .format import DatasetError, DatasetMeta, DatasetWriter, PreparedData

__all__ = ["DatasetError", "DatasetMeta", "DatasetWriter", "PoseDataset", "PreparedData"]
