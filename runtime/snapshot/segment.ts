/**
 * History segments: one channel's messages over a seq range, plus the edits
 * and deletes made since the previous segment to earlier messages, as plain
 * MessagePack, gzip-compressed. SEGMENTS.md documents the format.
 */
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { decode, encode } from '../../protocol/codec.js';
import type { AttachmentView, ChannelKind, Role } from '../../protocol/messages.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

export const SEGMENT_FORMAT = 1;

export interface SegmentMessage {
  seq: number;
  sender: number;
  cmid: string;
  body: string;
  /** Commit time, ms since the epoch. */
  ts: number;
  edited?: number;
  deleted?: boolean;
  /** The files it carries (their bytes are the blob store's `attachments/<id>`); absent when none. */
  attachments?: AttachmentView[];
}

/** A later state of a message written in an earlier segment. */
export interface SegmentAmendment {
  seq: number;
  body: string;
  edited?: number;
  deleted?: boolean;
}

export interface Segment {
  format: number;
  channel: { id: number; name: string | null; kind: ChannelKind; topic: string; directKey: string | null };
  /** Members and the users they are, as of writing. */
  members: { user: number; name: string; role: Role; lastReadSeq: number }[];
  /** Senders of the messages inside who are not members any more. */
  senders: { user: number; name: string }[];
  /** The owner epoch of the writer. */
  epoch: number;
  /** Seq range of `messages`, inclusive; empty when from > to. */
  from: number;
  to: number;
  messages: SegmentMessage[];
  amendments: SegmentAmendment[];
  /** When the segment was written, ms since the epoch. */
  written: number;
}

/**
 * Object key of a segment: sorts by channel, then seq range, then time of
 * writing, which is the order a reader applies them in. Every write gets a key
 * of its own, so create-only puts never collide by accident.
 */
export function segmentKey(channel: number, from: number, to: number, written: number): string {
  return `channels/${pad(channel, 12)}/segments/${pad(from, 15)}-${pad(to, 15)}-${pad(written, 15)}.seg`;
}

const SEGMENT_KEY = /^channels\/(\d+)\/segments\/(\d+)-(\d+)-(\d+)\.seg$/;

/** The parts of a key made by segmentKey(), or null for any other object. */
export function parseSegmentKey(key: string): { channel: number; from: number; to: number; written: number } | null {
  const m = SEGMENT_KEY.exec(key);
  return m ? { channel: Number(m[1]), from: Number(m[2]), to: Number(m[3]), written: Number(m[4]) } : null;
}

/** The prefix under which a channel's segments live. */
export function channelPrefix(channel: number): string {
  return `channels/${pad(channel, 12)}/`;
}

export async function encodeSegment(s: Segment): Promise<Buffer> {
  return gzipAsync(encode(s));
}

/** Decodes and checks a segment; throws on anything that is not one. */
export async function decodeSegment(bytes: Uint8Array): Promise<Segment> {
  const value = decode(await gunzipAsync(bytes)) as Segment;
  if (typeof value !== 'object' || value === null || value.format !== SEGMENT_FORMAT) {
    throw new Error('not a Tertulia history segment of a known format');
  }
  if (!Array.isArray(value.messages) || !Array.isArray(value.amendments) || typeof value.channel?.id !== 'number') {
    throw new Error('malformed history segment');
  }
  for (let i = 0; i < value.messages.length; i++) {
    if (value.messages[i]!.seq !== value.from + i) throw new Error('segment messages are not contiguous');
  }
  return value;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}
