"""numpy <-> pyarrow without pyarrow's pandas-based conversions.

`pyarrow.Array.to_numpy`, `np.asarray(array)` and `pa.array(...)` import pandas when it is installed,
which costs 0.5-1 s per process; these helpers build and read the buffers directly.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_DTYPES = {
    arrow_type.id: np.dtype(name)
    for arrow_type, name in (
        (pa.int8(), "i1"), (pa.int16(), "<i2"), (pa.int32(), "<i4"), (pa.int64(), "<i8"),
        (pa.uint8(), "u1"), (pa.uint16(), "<u2"), (pa.uint32(), "<u4"), (pa.uint64(), "<u8"),
        (pa.float32(), "<f4"), (pa.float64(), "<f8"),
    )
}  # fmt: skip


def to_numpy(array: pa.Array, null_value: object = None) -> np.ndarray:
    """Values of a primitive (numeric or boolean) array as numpy.

    Nulls are replaced by `null_value`; without one, an array with nulls is refused.
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.null_count and null_value is None:
        raise ValueError("to_numpy needs an array without nulls, or a null_value")
    validity, data = array.buffers()[:2]
    if pa.types.is_boolean(array.type):
        out = _bits(data, array.offset, len(array))
    else:
        dtype = _DTYPES[array.type.id]
        out = (
            np.frombuffer(data, dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize)
            if data is not None
            else np.zeros(0, dtype=dtype)
        )
    if array.null_count:
        out = out.copy()
        out[~_bits(validity, array.offset, len(array))] = null_value
    return out


def _bits(buffer: pa.Buffer | None, offset: int, length: int) -> np.ndarray:
    if buffer is None or length == 0:
        return np.zeros(length, dtype=bool)
    bits = np.unpackbits(np.frombuffer(buffer, dtype=np.uint8), bitorder="little")
    return bits[offset : offset + length].astype(bool)


def string_lengths(array: pa.Array) -> np.ndarray:
    """Byte length of each value of a string array (0 for nulls)."""
    offsets = array.buffers()[1]
    dtype = np.dtype("<i8") if pa.types.is_large_string(array.type) else np.dtype("<i4")
    if offsets is None:
        return np.zeros(len(array), dtype=np.int64)
    bounds = np.frombuffer(offsets, dtype=dtype, count=len(array) + 1, offset=array.offset * dtype.itemsize)
    return np.diff(bounds).astype(np.int64)


def bool_array(mask: np.ndarray) -> pa.Array:
    """A pyarrow boolean array of a numpy mask (for `filter`)."""
    mask = np.ascontiguousarray(mask, dtype=bool)
    return pa.Array.from_buffers(pa.bool_(), len(mask), [None, pa.py_buffer(np.packbits(mask, bitorder="little"))])


def index_array(indices: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """A pyarrow int64 array of numpy indices (for `take`); null where `valid` is False."""
    indices = np.ascontiguousarray(indices, dtype=np.int64)
    validity = None if valid is None else pa.py_buffer(np.packbits(np.asarray(valid, dtype=bool), bitorder="little"))
    return pa.Array.from_buffers(pa.int64(), len(indices), [validity, pa.py_buffer(indices)])


def string_array(values: list[str | None]) -> pa.Array:
    """A pyarrow string array of Python strings (None = null), built from its buffers."""
    encoded = [b"" if value is None else value.encode("utf-8") for value in values]
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum([len(item) for item in encoded], out=offsets[1:])
    valid = np.array([value is not None for value in values], dtype=bool)
    validity = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    buffers = [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.large_string(), len(values), buffers).cast(pa.string())


def string_scalar(value: str) -> pa.Scalar:
    """A pyarrow string scalar (`pa.scalar` and plain Python arguments to compute functions import
    pandas)."""
    return string_array([value])[0]


def single_byte_encoded(array: pa.Array) -> pa.DictionaryArray | None:
    """Dictionary encoding of a string array whose values are all one byte long (flags, one-hot
    and code columns) without hashing: the dictionary is every byte from the lowest to the highest
    value present (one-byte UTF-8 values are ASCII, so at most 128), the index is the byte minus
    the lowest. None for any other array.

    Entries may be unused and the order is by byte, not first appearance; the profiler counts
    values per entry and depends on neither.
    """
    if not pa.types.is_string(array.type) or array.null_count or not len(array):
        return None
    offsets = np.frombuffer(array.buffers()[1], dtype="<i4", count=len(array) + 1, offset=4 * array.offset)
    if not (np.diff(offsets) == 1).all():
        return None
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8, count=len(array), offset=int(offsets[0]))
    low, high = int(data.min()), int(data.max())
    dictionary = string_array([chr(byte) for byte in range(low, high + 1)])
    indices = (data - np.uint8(low)).view(np.int8)
    return pa.DictionaryArray.from_arrays(
        pa.Array.from_buffers(pa.int8(), len(indices), [None, pa.py_buffer(indices)]), dictionary, safe=False
    )
