/**
 * Reads an ONNX file's graph inputs and outputs (names, dtypes, dims) straight from the
 * protobuf, seeking past the weights. A 1.7 GB UNet is checked in milliseconds, so a
 * model folder is validated before any session is created, and the dimension names
 * that session options override are known before the one and only session load.
 */
import fs from 'node:fs';
import type { ValueSpec } from './sessions.ts';

const ELEM_TYPES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
};

/** Positional reads through a small window: only the bytes of headers are ever read. */
class FileCursor {
  private buf = Buffer.alloc(1 << 16);
  private bufStart = 0;
  private bufLen = 0;
  constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}

  private byteAt(pos: number): number {
    if (pos < this.bufStart || pos >= this.bufStart + this.bufLen) {
      this.bufStart = pos;
      this.bufLen = fs.readSync(this.fd, this.buf, 0, this.buf.length, pos);
      if (this.bufLen === 0) throw new Error('unexpected end of file');
    }
    return this.buf[pos - this.bufStart];
  }

  varint(pos: number): [value: number, next: number] {
    let value = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byteAt(pos++);
      value += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return [value, pos];
      mul *= 128;
    }
    throw new Error('malformed varint');
  }

  bytes(pos: number, len: number): Buffer {
    const out = Buffer.alloc(len);
    if (fs.readSync(this.fd, out, 0, len, pos) !== len) throw new Error('unexpected end of file');
    return out;
  }
}

interface Field {
  field: number;
  wire: number;
  /** varint value, or the payload length for wire type 2 */
  value: number;
  /** payload start for wire type 2 */
  start: number;
  end: number;
}

function* fields(cur: FileCursor, start: number, end: number): Generator<Field> {
  let pos = start;
  while (pos < end) {
    const [tag, afterTag] = cur.varint(pos);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) {
      const [value, next] = cur.varint(afterTag);
      yield { field, wire, value, start: afterTag, end: next };
      pos = next;
    } else if (wire === 2) {
      const [len, payload] = cur.varint(afterTag);
      yield { field, wire, value: len, start: payload, end: payload + len };
      pos = payload + len;
    } else if (wire === 1) {
      pos = afterTag + 8;
    } else if (wire === 5) {
      pos = afterTag + 4;
    } else {
      throw new Error(`unsupported protobuf wire type ${wire} at byte ${pos}`);
    }
    if (pos > end) throw new Error('protobuf field runs past its message');
  }
}

/** The same walk over an in-memory message (the small ValueInfo messages). */
function* memFields(buf: Buffer): Generator<{ field: number; wire: number; value: number; data?: Buffer }> {
  let pos = 0;
  const varint = (): number => {
    let value = 0;
    let mul = 1;
    for (;;) {
      const b = buf[pos++];
      if (b === undefined) throw new Error('truncated varint');
      value += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return value;
      mul *= 128;
    }
  };
  while (pos < buf.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) yield { field, wire, value: varint() };
    else if (wire === 2) {
      const len = varint();
      yield { field, wire, value: len, data: buf.subarray(pos, pos + len) };
      pos += len;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
}

function valueInfo(buf: Buffer): ValueSpec {
  let name = '';
  let type = 'non-tensor';
  const shape: (number | string)[] = [];
  for (const f of memFields(buf)) {
    if (f.field === 1 && f.data) name = f.data.toString('utf8');
    if (f.field !== 2 || !f.data) continue;
    for (const t of memFields(f.data)) {
      if (t.field !== 1 || !t.data) continue; // only tensor_type
      for (const tt of memFields(t.data)) {
        if (tt.field === 1) type = ELEM_TYPES[tt.value] ?? `onnx-type-${tt.value}`;
        if (tt.field !== 2 || !tt.data) continue;
        for (const dim of memFields(tt.data)) {
          if (dim.field !== 1 || !dim.data) continue;
          let value: number | string = -1;
          for (const d of memFields(dim.data)) {
            if (d.field === 1) value = d.value;
            if (d.field === 2 && d.data) value = d.data.toString('utf8');
          }
          // a dimension with neither value nor name is unnamed and free
          shape.push(value === -1 ? '' : value);
        }
      }
    }
  }
  return { name, type, shape };
}

export interface OnnxInterface {
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  /** files the weights live in (external data), relative to the model file */
  externalFiles: string[];
}

/** The `location` of a TensorProto.external_data entry list. */
function externalLocation(entry: Buffer): [key: string, value: string] {
  let key = '';
  let value = '';
  for (const f of memFields(entry)) {
    if (f.field === 1 && f.data) key = f.data.toString('utf8');
    if (f.field === 2 && f.data) value = f.data.toString('utf8');
  }
  return [key, value];
}

export function readOnnxInterface(file: string): OnnxInterface {
  const fd = fs.openSync(file, 'r');
  try {
    const cur = new FileCursor(fd, fs.fstatSync(fd).size);
    let graph: Field | undefined;
    for (const f of fields(cur, 0, cur.size)) if (f.field === 7 && f.wire === 2) graph = f;
    if (!graph) throw new Error('no graph in the file');
    const inputs: ValueSpec[] = [];
    const outputs: ValueSpec[] = [];
    const initializers = new Set<string>();
    const externalFiles = new Set<string>();
    for (const f of fields(cur, graph.start, graph.end)) {
      if (f.wire !== 2) continue;
      if (f.field === 11) inputs.push(valueInfo(cur.bytes(f.start, f.value)));
      else if (f.field === 12) outputs.push(valueInfo(cur.bytes(f.start, f.value)));
      else if (f.field === 5) {
        // TensorProto.name (8); raw_data is skipped by its length, never read
        for (const t of fields(cur, f.start, f.end)) {
          if (t.field === 8 && t.wire === 2) initializers.add(cur.bytes(t.start, t.value).toString('utf8'));
          if (t.field === 13 && t.wire === 2) {
            const [key, value] = externalLocation(cur.bytes(t.start, t.value));
            if (key === 'location') externalFiles.add(value);
          }
        }
      }
    }
    // IR < 4 files also list every weight as a graph input; those are not inputs to feed
    return { inputs: inputs.filter((i) => !initializers.has(i.name)), outputs, externalFiles: [...externalFiles] };
  } finally {
    fs.closeSync(fd);
  }
}
