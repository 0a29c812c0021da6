"""MNIST and Fashion-MNIST read from their standard IDX files.

Files are looked up (raw or ``.gz``) in ``root/<ClassName>/raw`` (torchvision's
layout), then ``root/<ClassName>`` and ``root``. ``download=True`` fetches the
missing ones from the mirrors with an MD5 check and an atomic write.

Unlike torchvision (which returns PIL images), a sample is ``(image, label)`` with
``image`` a float32 tensor of shape (1, 28, 28) scaled to [0, 1] — what
``transforms.ToTensor()`` would give — and ``label`` an int. ``transform`` is
applied to that tensor. ``.data`` (uint8, N×28×28) and ``.targets`` (int64) hold
the whole set.
"""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from ..tensor import Tensor
from ..utils.data import Dataset
from .download import DownloadError, download_url
from .idx import IDXError, read_idx

__all__ = ["MNIST", "FashionMNIST"]


class MNIST(Dataset):
    """The MNIST handwritten digits (60,000 train / 10,000 test images of 28×28).

    >>> import os, tempfile, numpy as np
    >>> from chainrule.datasets import write_idx
    >>> root = tempfile.mkdtemp(); raw = os.path.join(root, "MNIST", "raw"); os.makedirs(raw)
    >>> write_idx(os.path.join(raw, "t10k-images-idx3-ubyte"), np.full((2, 28, 28), 255, np.uint8))
    >>> write_idx(os.path.join(raw, "t10k-labels-idx1-ubyte.gz"), np.array([3, 7], np.uint8))
    >>> ds = MNIST(root, train=False)
    >>> len(ds), ds[1][0].shape, ds[1][0].max().item(), ds[1][1]
    (2, chainrule.Size([1, 28, 28]), 1.0, 7)
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    resources = [("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                 ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
                 ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
                 ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root: str, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        self.root = os.path.expanduser(os.fspath(root))
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        if download:
            self.download()
        prefix = "train" if train else "t10k"
        images = read_idx(self._find(f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(self._find(f"{prefix}-labels-idx1-ubyte"))
        name = type(self).__name__
        if images.ndim != 3 or images.dtype != np.uint8:
            raise IDXError(f"{name}: the image file should hold uint8 data of shape (N, H, W), "
                           f"got {images.dtype} of shape {images.shape}")
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise IDXError(f"{name}: expected {images.shape[0]} labels (one per image) in a 1-d "
                           f"file, got shape {labels.shape}")
        self.data = Tensor._make(images)
        self.targets = Tensor._make(labels.astype(np.int64))

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, type(self).__name__, "raw")

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def _folders(self) -> list[str]:
        return [self.raw_folder, os.path.join(self.root, type(self).__name__), self.root]

    def _find(self, base: str) -> str:
        for folder in self._folders():
            for name in (base, base + ".gz"):
                path = os.path.join(folder, name)
                if os.path.isfile(path):
                    return path
        raise FileNotFoundError(
            f"{type(self).__name__}: {base} (or {base}.gz) not found in "
            + ", ".join(repr(f) for f in self._folders())
            + "; pass download=True to fetch it, or copy the IDX files into "
            + repr(self.raw_folder))

    def _have(self, gz_name: str) -> bool:
        base = gz_name[:-3]
        return any(os.path.isfile(os.path.join(f, n)) for f in self._folders()
                   for n in (base, gz_name))

    def download(self) -> None:
        """Fetch the files that are not already present (each checked against its MD5)."""
        for filename, md5 in self.resources:
            if self._have(filename):
                continue
            errors = []
            for mirror in self.mirrors:
                try:
                    download_url(mirror + filename, self.raw_folder, filename, md5=md5)
                    break
                except DownloadError as e:
                    errors.append(str(e))
            else:
                raise DownloadError(f"{type(self).__name__}: could not download {filename} from "
                                    f"any mirror:\n  " + "\n  ".join(errors))

    def __len__(self) -> int:
        return self.data.shape[0]

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image = Tensor._make((self.data._data[index] / np.float32(255)).astype(np.float32)[None])
        target = int(self.targets._data[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    @property
    def _supports_batch(self) -> bool:
        return self.transform is None and self.target_transform is None

    def _batch(self, indices) -> list:
        """The collated batch, as default_collate would build it from the samples."""
        idx = np.asarray(indices, dtype=np.int64)
        images = (self.data._data[idx] / np.float32(255)).astype(np.float32)[:, None]
        return [Tensor._make(images), Tensor._make(self.targets._data[idx])]

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"

    def __repr__(self) -> str:
        return (f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n"
                f"    Root location: {self.root}\n    {self.extra_repr()}")


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28×28 grayscale clothing images in 10 classes, MNIST's layout."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                 ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
                 ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
                 ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310")]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
