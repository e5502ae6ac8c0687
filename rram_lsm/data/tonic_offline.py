"""tonic's N-MNIST and N-TIDIGITS18 readers, kept offline by subclassing.

tonic downloads a dataset whenever its own presence check fails. These subclasses never do:
``download`` raises `DataError`. N-MNIST's check also wants at least 10,000 ``.bin`` files, which a
partial folder or a small built-in stand-in does not have; our loader validates the folder itself
first (`rram_lsm.data.loaders.index_nmnist_folder`: missing data are an error, a partial folder
loads with a warning), so the subclass accepts whatever is on disk.

The classes keep tonic's names on purpose: tonic reads from ``<save_to>/<class name>/``.
Importing this module imports tonic (slow); the loaders import it only when they read data.
"""

from __future__ import annotations

from tonic.datasets import NMNIST as _TonicNMNIST
from tonic.datasets import NTIDIGITS18 as _TonicNTIDIGITS18

from rram_lsm.errors import DataError

__all__ = ["NMNIST", "NTIDIGITS18"]


def _refuse_download(dataset: _TonicNMNIST | _TonicNTIDIGITS18) -> None:
    raise DataError(f"{dataset.location_on_system}: files missing; refusing to download")


class NMNIST(_TonicNMNIST):
    """tonic's N-MNIST reader that trusts the (already validated) files and never downloads."""

    def _check_exists(self) -> bool:
        return True

    def download(self) -> None:
        _refuse_download(self)


class NTIDIGITS18(_TonicNTIDIGITS18):
    """tonic's N-TIDIGITS18 reader that never downloads (a missing file raises `DataError`)."""

    def download(self) -> None:
        _refuse_download(self)


# tonic derives the data folder from the class name: a rename here would move it.
assert NMNIST.__name__ == _TonicNMNIST.__name__ and NTIDIGITS18.__name__ == _TonicNTIDIGITS18.__name__
