/**
 * On-disk format of the file driver's log, kept apart from the driver so it can be read (and
 * tested) on its own.
 *
 *   file   = header frame*
 *   header = "TROUPLOG" u32le(version = 1) u32le(0)                           16 bytes
 *   frame  = u32le(payload length) u32le(crc32(length bytes ++ payload)) payload
 *
 * One frame is one atomic unit: a `commit` batch, a `createActor`, or a chunk of a compacted
 * snapshot. A frame whose length runs past the end of the file, or whose checksum does not
 * match, ends the log: nothing after it is applied. The checksum covers the length field too,
 * so a flipped length cannot make garbage look like a frame.
 *
 * A crash can only tear the last write, so a bad frame with nothing valid after it is a torn
 * tail. A bad frame with valid frames after it is damage in the middle of the log (a flipped
 * byte on disk): the scanner looks for such frames (at every byte offset, since a damaged length
 * hides where the next frame starts) so the driver can refuse to serve the older data silently.
 * One crash does look like that: a power loss in the middle of a write of several frames, or
 * of two writes in flight at once (the driver overlaps a write with the sync of the one before),
 * can keep a later page and lose an earlier one. Frames written by the driver therefore say how
 * far the log was durable when their write was issued (type 2, `base`): a valid frame whose base
 * lies at or before the damage was written while the damaged bytes were still in flight, and
 * was never acknowledged (an acknowledgement waits for every earlier write). When every valid
 * frame after the damage is such a frame, the damage is the torn tail of a crash, not
 * corruption. A valid frame with a base past the damage proves the damaged bytes were durable
 * once: that is damage in the middle of the log, refused. (Bytes that rot on disk after being
 * acknowledged look the same as a torn write when they lie in the last two writes, as damage to
 * the last frame always did: the driver keeps at most two writes in flight.)
 *
 * Payload (all integers little-endian; strings are UTF-8 with a u32 byte length; byte strings
 * are raw with a u32 length, so binary values survive exactly):
 *   u8 type (1 = batch; 2 = batch written by a commit, followed by f64 base: the end of the
 *      durable log when its write was issued)
 *   u32 n, n × create:  str id, str name, str keyEnc, f64 createdAt, str data
 *   u32 n, n × state:   str id, str data
 *   u32 n, n × put:     str id, bytes key, bytes value
 *   u32 n, n × delete:  str id, bytes key
 *   u32 n, n × alarm:   str id, u8 hasAlarm, f64 at
 *   u32 n, n × destroy: str id
 * Sections apply in that order. Decoding returns byte offsets for data and values rather than
 * copies, so the driver can index large values by file position instead of holding them.
 */
import { crc32 } from "node:zlib";
import type { CommitBatch } from "../driver.js";

export const LOG_MAGIC = Buffer.from("TROUPLOG", "latin1");
export const LOG_VERSION = 1;
export const LOG_HEADER_BYTES = 16;
export const FRAME_HEADER_BYTES = 8;
/** Upper bound on one frame's payload; a larger length field can only be corruption. */
export const MAX_FRAME_PAYLOAD = 1024 * 1024 * 1024;

const TYPE_BATCH = 1;
/** A batch that also records its write's base (see above). */
const TYPE_BATCH_AT = 2;

export interface CreateEntry {
  id: string;
  name: string;
  keyEnc: string;
  createdAt: number;
  data: string;
}

/** What one frame carries: a commit batch, plus actor creations. */
export interface FrameContent extends CommitBatch {
  creates: CreateEntry[];
}

/** A [start, end) range of bytes inside a frame buffer. */
export interface Span {
  start: number;
  end: number;
}

export interface DecodedFrame {
  creates: { id: string; name: string; keyEnc: string; createdAt: number; data: Span }[];
  states: { actorId: string; data: Span }[];
  /** Keys as binary (latin1) strings. */
  puts: { actorId: string; key: string; value: Span }[];
  deletes: { actorId: string; key: string }[];
  alarms: { actorId: string; at: number | null }[];
  destroyed: string[];
}

export class LogFormatError extends Error {
  override name = "LogFormatError";
}

/**
 * The log is damaged in the middle: valid frames follow a bad one, so cutting the log there
 * would lose acknowledged writes. Opening refuses unless told to accept that loss.
 */
export class LogCorruptedError extends LogFormatError {
  override name = "LogCorruptedError";

  constructor(
    /** The log file. */
    readonly path: string,
    /** Byte offset of the first bad frame: where the log would be cut. */
    readonly offset: number,
    /** What is wrong with that frame. */
    readonly problem: string,
    /** Frames after the damage that still verify, and their bytes. */
    readonly validFramesAfter: number,
    readonly validBytesAfter: number,
    /** Bytes from the damage to the end of the file (what a cut would set aside). */
    readonly bytesAfter: number,
  ) {
    super(
      `${path} is damaged at byte offset ${offset} (${problem}), and ` +
        `${plural(validFramesAfter, "valid frame")} (${validBytesAfter} bytes) ` +
        `${validFramesAfter === 1 ? "follows" : "follow"} the damage: later writes that cutting the log there would lose. ` +
        "Troupe refuses to start rather than serve older data. To proceed, either restore the data " +
        "directory from a backup, or accept losing every write from that offset on: start once " +
        'with the file driver option onCorruption: "truncate" (or TROUPE_FILE_ON_CORRUPTION=truncate). ' +
        `The log is then cut at offset ${offset} and the ${bytesAfter} bytes after it are saved ` +
        "next to it as troupe.log.corrupt-<time>.",
    );
  }
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

export function logHeader(): Buffer {
  const h = Buffer.alloc(LOG_HEADER_BYTES);
  LOG_MAGIC.copy(h, 0);
  h.writeUInt32LE(LOG_VERSION, 8);
  return h;
}

/** Throws a LogFormatError unless `h` is a header this code can read. */
export function checkHeader(h: Buffer, path: string): void {
  if (h.length < LOG_HEADER_BYTES || !h.subarray(0, 8).equals(LOG_MAGIC)) {
    throw new LogFormatError(
      `${path} is not a troupe log (bad header). Refusing to touch it: move it away or point the file driver at another directory.`,
    );
  }
  const version = h.readUInt32LE(8);
  if (version !== LOG_VERSION) {
    throw new LogFormatError(
      `${path} has log format version ${version}; this troupe reads version ${LOG_VERSION}.`,
    );
  }
}

/**
 * Encodes one frame (header included). With `base` (the end of the durable log when the frame's
 * write is issued), a type 2 frame that recovery can tell apart from acknowledged writes.
 */
export function encodeFrame(content: FrameContent, base?: number): Buffer {
  const strLen = (s: string) => 4 + Buffer.byteLength(s, "utf8");
  let size = 1 + (base === undefined ? 0 : 8) + 6 * 4;
  for (const c of content.creates) {
    size += strLen(c.id) + strLen(c.name) + strLen(c.keyEnc) + 8 + strLen(c.data);
  }
  for (const s of content.states) size += strLen(s.actorId) + strLen(s.data);
  for (const p of content.kvPuts)
    size += strLen(p.actorId) + 8 + p.key.byteLength + p.value.byteLength;
  for (const d of content.kvDeletes) size += strLen(d.actorId) + 4 + d.key.byteLength;
  for (const a of content.alarms) size += strLen(a.actorId) + 9;
  for (const id of content.destroyed) size += strLen(id);
  if (size > MAX_FRAME_PAYLOAD) {
    throw new RangeError(
      `A single commit of ${size} bytes exceeds the file driver's frame limit of ${MAX_FRAME_PAYLOAD} bytes.`,
    );
  }

  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + size);
  let o = FRAME_HEADER_BYTES;
  const u32 = (n: number) => {
    o = buf.writeUInt32LE(n, o);
  };
  const str = (s: string) => {
    const n = buf.write(s, o + 4, "utf8");
    buf.writeUInt32LE(n, o);
    o += 4 + n;
  };
  const bytes = (b: Uint8Array) => {
    buf.writeUInt32LE(b.byteLength, o);
    buf.set(b, o + 4);
    o += 4 + b.byteLength;
  };

  if (base === undefined) buf[o++] = TYPE_BATCH;
  else {
    buf[o++] = TYPE_BATCH_AT;
    o = buf.writeDoubleLE(base, o);
  }
  u32(content.creates.length);
  for (const c of content.creates) {
    str(c.id);
    str(c.name);
    str(c.keyEnc);
    o = buf.writeDoubleLE(c.createdAt, o);
    str(c.data);
  }
  u32(content.states.length);
  for (const s of content.states) {
    str(s.actorId);
    str(s.data);
  }
  u32(content.kvPuts.length);
  for (const p of content.kvPuts) {
    str(p.actorId);
    bytes(p.key);
    bytes(p.value);
  }
  u32(content.kvDeletes.length);
  for (const d of content.kvDeletes) {
    str(d.actorId);
    bytes(d.key);
  }
  u32(content.alarms.length);
  for (const a of content.alarms) {
    str(a.actorId);
    buf[o++] = a.at === null ? 0 : 1;
    o = buf.writeDoubleLE(a.at ?? 0, o);
  }
  u32(content.destroyed.length);
  for (const id of content.destroyed) str(id);
  if (o !== buf.length) throw new Error(`encodeFrame: sized ${buf.length} bytes, wrote ${o}`);

  buf.writeUInt32LE(size, 0);
  buf.writeUInt32LE(frameChecksum(buf), 4);
  return buf;
}

/** CRC32 over the length field and the payload of a complete frame buffer. */
export function frameChecksum(frame: Buffer): number {
  return crc32(frame.subarray(FRAME_HEADER_BYTES), crc32(frame.subarray(0, 4)));
}

/** The base a type 2 frame records (see the format above); undefined for other frames. */
export function frameBase(frame: Buffer): number | undefined {
  return frame.length >= FRAME_HEADER_BYTES + 9 && frame[FRAME_HEADER_BYTES] === TYPE_BATCH_AT
    ? frame.readDoubleLE(FRAME_HEADER_BYTES + 1)
    : undefined;
}

/**
 * Decodes a complete, checksum-verified frame. Spans are offsets into `frame`. Throws a
 * LogFormatError if the payload does not parse, which for a frame with a valid checksum means
 * a format or software bug, not a torn write.
 */
export function decodeFrame(frame: Buffer): DecodedFrame {
  let o = FRAME_HEADER_BYTES;
  const end = frame.length;
  const need = (n: number) => {
    if (o + n > end) throw new LogFormatError("frame payload ends early");
  };
  const u32 = () => {
    need(4);
    const n = frame.readUInt32LE(o);
    o += 4;
    return n;
  };
  const span = (): Span => {
    const n = u32();
    need(n);
    const s = { start: o, end: o + n };
    o += n;
    return s;
  };
  const str = () => {
    const s = span();
    return frame.toString("utf8", s.start, s.end);
  };
  const latin1 = () => {
    const s = span();
    return frame.toString("latin1", s.start, s.end);
  };
  const f64 = () => {
    need(8);
    const n = frame.readDoubleLE(o);
    o += 8;
    return n;
  };

  need(1);
  const type = frame[o++];
  if (type === TYPE_BATCH_AT) f64();
  else if (type !== TYPE_BATCH) throw new LogFormatError(`unknown frame type ${type}`);
  const out: DecodedFrame = {
    creates: [],
    states: [],
    puts: [],
    deletes: [],
    alarms: [],
    destroyed: [],
  };
  for (let n = u32(); n > 0; n--) {
    out.creates.push({ id: str(), name: str(), keyEnc: str(), createdAt: f64(), data: span() });
  }
  for (let n = u32(); n > 0; n--) out.states.push({ actorId: str(), data: span() });
  for (let n = u32(); n > 0; n--) out.puts.push({ actorId: str(), key: latin1(), value: span() });
  for (let n = u32(); n > 0; n--) out.deletes.push({ actorId: str(), key: latin1() });
  for (let n = u32(); n > 0; n--) {
    const actorId = str();
    need(1);
    const has = frame[o++];
    const at = f64();
    out.alarms.push({ actorId, at: has ? at : null });
  }
  for (let n = u32(); n > 0; n--) out.destroyed.push(str());
  if (o !== end) throw new LogFormatError(`frame has ${end - o} trailing bytes`);
  return out;
}

export interface ScanResult {
  /** Offset just past the last good frame: where the log must be cut. */
  end: number;
  /** Why scanning stopped before the end of the file, if it did. */
  problem?: string;
  /**
   * True when nothing but zeros follows the bad frame (a torn append into the end of the file or
   * into its preallocated zeros, not corruption).
   */
  tornTail: boolean;
  /**
   * With a problem: the frames after the bad one that still verify, and their bytes. Any at all
   * means the damage is in the middle of the log, not a torn tail, unless `inFlight` says they
   * were all written while the bad frame's write was still in flight (never acknowledged).
   */
  validAfter: ValidAfter;
}

export interface ValidAfter {
  frames: number;
  bytes: number;
  /**
   * There are frames, and every one records a base at or before the bad frame: all were
   * written before the bad bytes were known durable, so none was acknowledged (a crash with
   * writes in flight, not damage to acknowledged data).
   */
  inFlight: boolean;
}

/** Minimal positional reader, so the scanner works on any file handle. */
export interface PositionalReader {
  read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesRead: number }>;
}

const SCAN_CHUNK = 1024 * 1024;

/** The smallest payload a frame can have: its type and six empty section counts. */
const MIN_FRAME_PAYLOAD = 1 + 6 * 4;
/** Bytes of a frame's payload before its first section count, by type. */
const SECTIONS_AT: Record<number, number> = { [TYPE_BATCH]: 1, [TYPE_BATCH_AT]: 9 };
/** The smallest encoded create: four empty strings (id, name, key, data) and the timestamp. */
const MIN_CREATE_BYTES = 4 * 4 + 8;

/**
 * Reads frames from `LOG_HEADER_BYTES` up to `size`, calling `onFrame` (synchronously, with a
 * buffer that is only valid during the call) for each good one, and stops at the first frame
 * that is torn or fails its checksum. A zero frame header with only zeros after it is the
 * preallocated end of the log, not a problem. After a problem, counts the frames further on
 * that still verify (without applying them).
 */
export async function scanFrames(
  file: PositionalReader,
  size: number,
  onFrame: (frame: Buffer, position: number) => void,
): Promise<ScanResult> {
  let chunk = Buffer.alloc(0);
  let chunkPos = 0;
  const bytesAt = async (pos: number, n: number): Promise<Buffer | null> => {
    if (pos + n > size) return null;
    if (pos >= chunkPos && pos + n <= chunkPos + chunk.length) {
      return chunk.subarray(pos - chunkPos, pos - chunkPos + n);
    }
    const len = Math.min(Math.max(n, SCAN_CHUNK), size - pos);
    chunk = Buffer.allocUnsafe(len);
    await readFully(file, chunk, pos);
    chunkPos = pos;
    return chunk.subarray(0, n);
  };

  /** Whether every byte from `from` to the end of the file is zero. */
  const zerosFrom = async (from: number): Promise<boolean> => {
    for (let at = from; at < size; at += SCAN_CHUNK) {
      const n = Math.min(SCAN_CHUNK, size - at);
      const bytes = await bytesAt(at, n);
      if (!bytes?.every((b) => b === 0)) return false;
    }
    return true;
  };

  /** The whole frame at `pos` if it is one that verifies, else null. */
  const frameAt = async (pos: number): Promise<Buffer | null> => {
    const head = await bytesAt(pos, FRAME_HEADER_BYTES);
    if (!head) return null;
    const len = head.readUInt32LE(0);
    if (len < MIN_FRAME_PAYLOAD || len > MAX_FRAME_PAYLOAD) return null;
    const frame = await bytesAt(pos, FRAME_HEADER_BYTES + len);
    if (!frame || frameChecksum(frame) !== frame.readUInt32LE(4)) return null;
    return frame;
  };

  /** The first offset at or after `from` where a frame verifies, or null. */
  const nextFrameStart = async (from: number): Promise<number | null> => {
    // Header, type byte, base and the first section count: enough for the filters below.
    const window = FRAME_HEADER_BYTES + 13;
    for (let base = from; base + window <= size; base += SCAN_CHUNK) {
      // Each window overlaps the next by a header, so no candidate falls between two of them.
      const bytes = (await bytesAt(base, Math.min(SCAN_CHUNK + window, size - base)))!;
      const last = Math.min(SCAN_CHUNK, bytes.length - window + 1);
      for (let i = 0; i < last; i++) {
        // Cheap filters first (plausible length, batch type byte); the checksum decides.
        const len = bytes.readUInt32LE(i);
        if (len < MIN_FRAME_PAYLOAD || base + i + FRAME_HEADER_BYTES + len > size) continue;
        const sections = SECTIONS_AT[bytes[i + FRAME_HEADER_BYTES]!];
        if (sections === undefined) continue;
        // The creates come first and each takes at least MIN_CREATE_BYTES: random bytes (a
        // binary KV value) rarely agree with the length, which spares reading and checksumming
        // a would-be frame of up to the whole file at nearly every offset of a large log.
        if (bytes.readUInt32LE(i + FRAME_HEADER_BYTES + sections) * MIN_CREATE_BYTES > len) {
          continue;
        }
        if (await frameAt(base + i)) return base + i;
      }
    }
    return null;
  };

  /** Frames that verify anywhere after a bad frame at `bad`. */
  const validAfter = async (bad: number): Promise<ValidAfter> => {
    let frames = 0;
    let bytes = 0;
    let inFlight = true;
    let pos = bad + 1;
    for (;;) {
      const start = await nextFrameStart(pos);
      if (start === null) return { frames, bytes, inFlight: inFlight && frames > 0 };
      pos = start;
      for (let frame = await frameAt(pos); frame; frame = await frameAt(pos)) {
        frames++;
        bytes += frame.length;
        pos += frame.length;
        const base = frameBase(frame);
        if (base === undefined || base > bad) inFlight = false;
      }
      pos++;
    }
  };

  const stop = async (end: number, problem: string, tornTail: boolean): Promise<ScanResult> => ({
    end,
    problem,
    tornTail,
    validAfter: await validAfter(end),
  });

  let pos = LOG_HEADER_BYTES;
  while (pos < size) {
    const head = await bytesAt(pos, FRAME_HEADER_BYTES);
    if (!head) {
      if (await zerosFrom(pos)) return { end: pos, tornTail: false, validAfter: NONE };
      return stop(pos, "incomplete frame header at end of file", true);
    }
    const len = head.readUInt32LE(0);
    if (len === 0 && (await zerosFrom(pos))) return { end: pos, tornTail: false, validAfter: NONE };
    if (len === 0 || len > MAX_FRAME_PAYLOAD) {
      return stop(
        pos,
        `impossible frame length ${len} at offset ${pos}`,
        await zerosFrom(pos + FRAME_HEADER_BYTES),
      );
    }
    const frame = await bytesAt(pos, FRAME_HEADER_BYTES + len);
    if (!frame) return stop(pos, `frame at offset ${pos} runs past the end of file`, true);
    if (frameChecksum(frame) !== frame.readUInt32LE(4)) {
      return stop(
        pos,
        `checksum mismatch in frame at offset ${pos}`,
        await zerosFrom(pos + frame.length),
      );
    }
    onFrame(frame, pos);
    pos += frame.length;
  }
  return { end: pos, tornTail: false, validAfter: NONE };
}

const NONE: ValidAfter = Object.freeze({ frames: 0, bytes: 0, inFlight: false });

export async function readFully(
  file: PositionalReader,
  buf: Buffer,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await file.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) {
      throw new Error(`Unexpected end of file reading ${buf.length} bytes at offset ${position}.`);
    }
    done += bytesRead;
  }
}
