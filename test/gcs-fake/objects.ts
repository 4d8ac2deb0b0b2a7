/**
 * The fake's stored state: buckets of objects with GCS's metadata, and the
 * generation preconditions GCS checks on reads, writes and deletes.
 */
import { createHash } from 'node:crypto';
import { crc32cBase64 } from '../../runtime/blob/crc32c.js';

export interface StoredObject {
  name: string;
  data: Buffer;
  generation: bigint;
  metageneration: number;
  contentType: string;
  created: Date;
  updated: Date;
  crc32c: string;
  md5Hash: string;
}

/** What a failed request answers: status and the JSON API's error body. */
export class HttpFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }

  body(): string {
    return JSON.stringify({
      error: { code: this.status, message: this.message, errors: [{ message: this.message, domain: 'global', reason: this.reason }] },
    });
  }
}

export const notFound = (what: string): HttpFailure => new HttpFailure(404, `No such object: ${what}`, 'notFound');
export const badRequest = (message: string): HttpFailure => new HttpFailure(400, message, 'invalid');

export interface Preconditions {
  ifGenerationMatch?: string;
  ifGenerationNotMatch?: string;
}

export function preconditionsOf(query: URLSearchParams): Preconditions {
  const out: Preconditions = {};
  const match = query.get('ifGenerationMatch');
  const notMatch = query.get('ifGenerationNotMatch');
  if (match !== null) out.ifGenerationMatch = match;
  if (notMatch !== null) out.ifGenerationNotMatch = notMatch;
  return out;
}

export class FakeBucket {
  private readonly objects = new Map<string, StoredObject>();
  private lastGeneration = 0n;

  constructor(readonly name: string) {}

  get(name: string): StoredObject | undefined {
    return this.objects.get(name);
  }

  /** All object names, unsorted. */
  names(): string[] {
    return [...this.objects.keys()];
  }

  /** Throws 412 when a condition fails; generation "0" means "the object does not exist". */
  check(name: string, conditions: Preconditions): void {
    const current = this.objects.get(name);
    const generation = current ? current.generation.toString() : '0';
    const failed =
      (conditions.ifGenerationMatch !== undefined && conditions.ifGenerationMatch !== generation) ||
      (conditions.ifGenerationNotMatch !== undefined && conditions.ifGenerationNotMatch === generation);
    if (failed) throw new HttpFailure(412, 'At least one of the pre-conditions you specified did not hold.', 'conditionNotMet');
  }

  /** Checks the preconditions and stores in the same synchronous step, as GCS commits atomically. */
  insert(name: string, data: Buffer, contentType: string, conditions: Preconditions): StoredObject {
    this.check(name, conditions);
    const now = new Date();
    // GCS generations are microsecond timestamps; strictly increasing here so every write differs.
    let generation = BigInt(now.getTime()) * 1000n;
    if (generation <= this.lastGeneration) generation = this.lastGeneration + 1n;
    this.lastGeneration = generation;
    const stored: StoredObject = {
      name,
      data,
      generation,
      metageneration: 1,
      contentType,
      created: now,
      updated: now,
      crc32c: crc32cBase64(data),
      md5Hash: createHash('md5').update(data).digest('base64'),
    };
    this.objects.set(name, stored);
    return stored;
  }

  delete(name: string, conditions: Preconditions): void {
    if (!this.objects.has(name)) throw notFound(`${this.name}/${name}`);
    this.check(name, conditions);
    this.objects.delete(name);
  }
}

/** The object resource as the JSON API returns it: int64 fields as strings. */
export function objectResource(bucket: string, o: StoredObject, baseUrl: string): Record<string, unknown> {
  const path = `b/${bucket}/o/${encodeURIComponent(o.name)}`;
  return {
    kind: 'storage#object',
    id: `${bucket}/${o.name}/${o.generation}`,
    selfLink: `${baseUrl}/storage/v1/${path}`,
    mediaLink: `${baseUrl}/download/storage/v1/${path}?generation=${o.generation}&alt=media`,
    name: o.name,
    bucket,
    generation: o.generation.toString(),
    metageneration: String(o.metageneration),
    contentType: o.contentType,
    storageClass: 'STANDARD',
    size: String(o.data.length),
    md5Hash: o.md5Hash,
    crc32c: o.crc32c,
    etag: Buffer.from(o.generation.toString()).toString('base64'),
    timeCreated: o.created.toISOString(),
    updated: o.updated.toISOString(),
    timeStorageClassUpdated: o.created.toISOString(),
  };
}
