"""Builders of hostile files for the tests: .npy members, zip archives, and the check that a
call is refused with a one-line error."""

from __future__ import annotations

import io
import struct
import warnings
import zipfile

import numpy as np
import pytest

from descentlab._validation import DataError


def refused(call, fragments, error=DataError) -> str:
    """Run ``call``; expect ``error`` with every fragment in its one-line message."""
    with pytest.raises(error) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def npy(array: np.ndarray, version: tuple[int, int] | None = None) -> bytes:
    """``array`` as a .npy member (object arrays pickled, as a hostile file may hold them)."""
    out = io.BytesIO()
    np.lib.format.write_array(out, np.asanyarray(array), version=version, allow_pickle=True)
    return out.getvalue()


def npy_header(shape: tuple, descr: str = "<f8", version=(1, 0)) -> bytes:
    """A .npy header alone (magic string included), announcing ``shape``; no data follows."""
    out = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    if version == (1, 0):
        np.lib.format.write_array_header_1_0(out, header)
    else:
        np.lib.format.write_array_header_2_0(out, header)
    return out.getvalue()


def raw_header(text: bytes, version: tuple[int, int] = (1, 0)) -> bytes:
    """A .npy member whose header is ``text``, whatever it says."""
    length = struct.pack("<H" if version == (1, 0) else "<I", len(text))
    return b"\x93NUMPY" + bytes(version) + length + text


def zip_of(members: dict[str, bytes] | list[tuple[str, bytes]], compression=zipfile.ZIP_STORED):
    """A zip archive of ``members`` (a list may name a member twice)."""
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": some archives hold one on purpose
        with zipfile.ZipFile(out, "w", compression) as z:
            for name, data in dict(members).items() if isinstance(members, dict) else members:
                z.writestr(name, data)
    return out.getvalue()


def savez(**arrays) -> bytes:
    """``np.savez`` of ``arrays``, as bytes."""
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()
