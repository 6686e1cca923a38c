"""Reads the weights (initializers) out of an ONNX file, so the SDXL-format model can reuse the
VAE that ships in models/tiny without a second 35-minute VAE training or an extra dependency.

An ONNX file is a protobuf ModelProto; only the few fields on the way to the initializers are
decoded: ModelProto.graph (7) -> GraphProto.initializer (5) -> TensorProto dims (1), data_type (2),
float_data (4), name (8), raw_data (9). torch.onnx.export writes weights as raw little-endian data.
"""
import numpy as np

FLOAT, INT64 = 1, 7
_DTYPES = {FLOAT: np.float32, INT64: np.int64}


def _varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def _fields(buf):
    """Yields (field number, wire type, value) over one message; length-delimited values are
    memoryview slices, varints are ints."""
    i, end = 0, len(buf)
    while i < end:
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield field, wire, value


def _tensor(buf):
    dims, dtype, name, raw, floats = [], FLOAT, None, None, []
    for field, wire, value in _fields(buf):
        if field == 1:
            if wire == 2:  # packed
                j = 0
                while j < len(value):
                    d, j = _varint(value, j)
                    dims.append(d)
            else:
                dims.append(value)
        elif field == 2:
            dtype = value
        elif field == 4:
            floats.append(np.frombuffer(value, dtype="<f4"))  # packed (wire 2) or one fixed32 (wire 5)
        elif field == 8:
            name = bytes(value).decode("utf-8")
        elif field == 9:
            raw = bytes(value)
    if dtype not in _DTYPES:
        raise ValueError(f"initializer {name}: unsupported ONNX data type {dtype}")
    if raw is not None:
        arr = np.frombuffer(raw, dtype=np.dtype(_DTYPES[dtype]).newbyteorder("<"))
    else:
        arr = np.concatenate(floats) if floats else np.zeros(0, dtype=np.float32)
    return name, arr.astype(_DTYPES[dtype]).reshape(dims)


def read_initializers(path):
    """{name: numpy array} of every initializer in the ONNX file's main graph."""
    with open(path, "rb") as f:
        buf = memoryview(f.read())
    out = {}
    for field, _, value in _fields(buf):
        if field != 7:
            continue
        for gfield, _, gvalue in _fields(value):
            if gfield == 5:
                name, arr = _tensor(gvalue)
                out[name] = arr
    return out
