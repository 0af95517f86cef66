"""`arrays.single_byte_encoded` against pyarrow's own dictionary encoding."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from analyzer.arrays import single_byte_encoded


@pytest.mark.parametrize("alphabet", [["0", "1"], ["1"], ["a", "Z", "0", "~"], [chr(b) for b in range(1, 128)]])
@pytest.mark.parametrize("offset", [0, 3])
def test_one_byte_values_decode_to_the_same_strings(alphabet, offset):
    rng = np.random.default_rng(len(alphabet) + offset)
    array = pa.array(rng.choice(alphabet, 1000).tolist()).slice(offset)
    encoded = single_byte_encoded(array)
    assert encoded is not None
    assert encoded.dictionary.take(encoded.indices).equals(array)
    assert len(encoded.dictionary) <= 128
    used = set(encoded.dictionary.take(pc.unique(encoded.indices)).to_pylist())
    assert used == set(pc.unique(array).to_pylist())


@pytest.mark.parametrize(
    "values",
    [["0", "10"], ["0", ""], ["0", None], [], ["é"]],
    ids=["two bytes", "empty string", "null", "empty array", "two-byte UTF-8"],
)
def test_other_arrays_are_left_to_pyarrow(values):
    assert single_byte_encoded(pa.array(values, type=pa.string())) is None
