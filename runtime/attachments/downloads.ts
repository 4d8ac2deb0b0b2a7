/** Reading attachments back, a chunk at a time, by those who may. */
import { ErrorCode, TertuliaError } from '../../protocol/errors.js';
import type { Requests, Results } from '../../protocol/messages.js';
import { BlobError, type AttachmentLog, type BlobStore } from '../ports.js';
import { attachmentKey } from './keys.js';

export class Downloads {
  constructor(
    private readonly log: Pick<AttachmentLog, 'readable'>,
    private readonly blobs: BlobStore,
    private readonly chunkBytes: number,
  ) {}

  /**
   * Bytes from `offset`, at most `chunkBytes`. Permission is checked on every
   * call, so a member who is kicked (or whose message is deleted) stops reading.
   * Unknown and forbidden look alike.
   */
  async read(user: number, r: Requests['download']): Promise<Results['download']> {
    const attachment = await this.log.readable(r.attachment, user);
    if (!attachment) throw noSuch(r.attachment);
    const offset = r.offset ?? 0;
    const start = Math.min(offset, attachment.size);
    const end = Math.min(start + Math.min(r.length ?? this.chunkBytes, this.chunkBytes), attachment.size);
    let data: Buffer = Buffer.alloc(0);
    if (end > start) {
      try {
        data = await this.blobs.get(attachmentKey(attachment.id), { range: { start, end } });
      } catch (err) {
        if (err instanceof BlobError && err.kind === 'not_found') throw noSuch(r.attachment);
        if (err instanceof BlobError && err.kind === 'unavailable') {
          throw new TertuliaError(ErrorCode.BUSY, 'storage unavailable', { cause: err, retryMs: 500 });
        }
        throw err;
      }
    }
    return { attachment, offset, data, eof: start + data.length >= attachment.size };
  }
}

function noSuch(id: string): TertuliaError {
  return new TertuliaError(ErrorCode.NO_SUCH_ATTACHMENT, `no attachment ${id} that you may read`);
}
