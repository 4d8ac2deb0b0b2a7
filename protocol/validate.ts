/**
 * Request validation: turns a decoded payload into a typed request or the
 * error the connection sends back. Unknown extra fields are dropped (forward
 * compatibility); nil counts as absent, since some encoders write nil for an
 * unset optional field.
 */
import { ErrorCode, TertuliaError } from './errors.js';
import type { Op, Requests } from './messages.js';
import * as F from './fields.js';
import { INVALID, type Rule } from './fields.js';

interface Field<T> {
  rule: Rule<T>;
  optional: boolean;
}

/** A cross-field constraint: returns the INVALID_FIELD message, or null when met. */
type Check<A> = (args: A) => string | null;

interface Schema<A> {
  fields: { [K in keyof A]-?: Field<Exclude<A[K], undefined>> };
  check?: Check<A>;
}

const req = <T>(rule: Rule<T>): Field<T> => ({ rule, optional: false });
const opt = <T>(rule: Rule<T>): Field<T> => ({ rule, optional: true });

const channel = req(F.channelId);
const none = { fields: {} };

const SCHEMAS: { readonly [K in Op]: Schema<Requests[K]> } = {
  hello: { fields: { version: req(F.version), client: opt(F.client) } },
  ping: none,
  register: { fields: { name: req(F.userName), password: req(F.password) } },
  login: { fields: { name: req(F.userName), password: req(F.password) } },
  auth: { fields: { token: req(F.token) } },
  logout: none,
  create: {
    fields: { name: req(F.channelName), kind: req(F.oneOf('public', 'private')), topic: opt(F.topic) },
  },
  join: {
    fields: { channel: opt(F.channelId), name: opt(F.channelName) },
    check: (a) => ((a.channel === undefined) === (a.name === undefined) ? 'channel, name: give exactly one of the two' : null),
  },
  leave: { fields: { channel } },
  invite: { fields: { channel, user: req(F.userName) } },
  kick: { fields: { channel, user: req(F.userName) } },
  role: { fields: { channel, user: req(F.userName), role: req(F.oneOf('admin', 'member')) } },
  channels: none,
  find: { fields: { prefix: req(F.prefix), limit: opt(F.integer(1, F.MAX_FIND_LIMIT)) } },
  direct: { fields: { user: req(F.userName) } },
  send: {
    fields: { channel, cmid: req(F.cmid), body: req(F.bodyOrEmpty), attachments: opt(F.attachmentIds) },
    check: (a) => (a.body === '' && a.attachments === undefined ? 'body: must not be empty without attachments' : null),
  },
  edit: { fields: { channel, seq: req(F.messageSeq), body: req(F.body) } },
  delete: { fields: { channel, seq: req(F.messageSeq) } },
  history: {
    fields: { channel, before: opt(F.seq), after: opt(F.seq), limit: opt(F.integer(1, F.MAX_HISTORY_PAGE)) },
    check: (a) => (a.before !== undefined && a.after !== undefined ? 'before, after: give at most one of the two' : null),
  },
  subscribe: { fields: { channel, after: opt(F.seq) } },
  unsubscribe: { fields: { channel } },
  read: { fields: { channel, seq: req(F.seq) } },
  who: { fields: { channel } },
  typing: { fields: { channel } },
  upload: { fields: { name: req(F.fileName), type: req(F.contentType), size: req(F.byteCount), sha256: req(F.sha256) } },
  chunk: { fields: { upload: req(F.attachmentId), offset: req(F.byteCount), data: req(F.chunkData) } },
  finish: { fields: { upload: req(F.attachmentId) } },
  download: {
    fields: { attachment: req(F.attachmentId), offset: opt(F.byteCount), length: opt(F.integer(1, F.MAX_CHUNK_BYTES)) },
  },
};

/** Every op this build understands. */
export const OPS: readonly Op[] = Object.keys(SCHEMAS) as Op[];

/** A request that passed validation; `args` holds only the op's fields, names lowercased. */
export type ParsedRequest = { [K in Op]: { ok: true; op: K; id: number; args: Requests[K] } }[Op];

/** A refused request; `id` is null when the payload carried no usable id (answer with an `error` event). */
export interface RejectedRequest {
  ok: false;
  id: number | null;
  error: TertuliaError;
}

/** Validates one decoded payload as a request (see PROTOCOL.md, "Requests"). */
export function parseRequest(value: unknown): ParsedRequest | RejectedRequest {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || ArrayBuffer.isView(value)) {
    return reject(null, ErrorCode.BAD_REQUEST, 'a request must be a map');
  }
  const map = value as Record<string, unknown>;
  const id = F.requestId.parse(own(map, 'id'));
  if (id === INVALID) return reject(null, ErrorCode.BAD_REQUEST, `id: must be ${F.requestId.expect}`);
  const op = own(map, 'op');
  if (typeof op !== 'string') return reject(id, ErrorCode.BAD_REQUEST, 'op: must be a string');
  if (!Object.hasOwn(SCHEMAS, op)) return reject(id, ErrorCode.UNKNOWN_OP, `unknown op ${JSON.stringify(op.slice(0, 64))}`);
  const schema = SCHEMAS[op as Op] as Schema<Record<string, unknown>>;
  const args: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(schema.fields)) {
    const raw = own(map, name);
    if (raw === undefined || raw === null) {
      if (!field.optional) return reject(id, ErrorCode.INVALID_FIELD, `${name}: required`);
      continue;
    }
    const v = field.rule.parse(raw);
    if (v === INVALID) return reject(id, ErrorCode.INVALID_FIELD, `${name}: must be ${field.rule.expect}`);
    args[name] = v;
  }
  const problem = schema.check?.(args);
  if (problem) return reject(id, ErrorCode.INVALID_FIELD, problem);
  return { ok: true, op, id, args } as ParsedRequest;
}

function own(map: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(map, key) ? map[key] : undefined;
}

function reject(id: number | null, code: number, message: string): RejectedRequest {
  return { ok: false, id, error: new TertuliaError(code, message) };
}
