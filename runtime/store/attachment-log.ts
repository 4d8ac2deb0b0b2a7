/**
 * Attachments in PostgreSQL: the upload's row, and the questions download
 * permission and cleanup ask of `message_attachments`.
 *
 * Cleanup and posting race safely: the append takes FOR KEY SHARE on each
 * attachment row it links (message-log.ts), and the sweep's DELETE needs the
 * row exclusively and re-checks that no link exists; a link that commits
 * first makes the DELETE fail its foreign key, which `sweep` reports as "no
 * longer due".
 */
import type { AttachmentView } from '../../protocol/messages.js';
import { StoreError, type AttachmentLog, type NewUpload } from '../ports.js';
import { isoTime, num, type Row, type Sql } from './sql.js';

const VIEW_COLUMNS = 'a.id, a.name, a.content_type, a.size, a.sha256';

/** Due for deletion (`?` = created before): abandoned uploads, and attachments no message carries. */
const DUE = `(a.created_at < ?::timestamptz and (a.state = 'uploading'
  or not exists (select 1 from message_attachments ma where ma.attachment_id = a.id)))`;

export class PgAttachmentLog implements AttachmentLog {
  constructor(private readonly sql: Sql) {}

  async beginUpload(u: NewUpload): Promise<void> {
    await this.sql.query(
      `insert into attachments (id, uploader_id, name, content_type, size, sha256) values (?, ?, ?, ?, ?, ?)`,
      [u.id, u.uploaderId, u.name, u.type, u.size, Buffer.from(u.sha256, 'hex')],
    );
  }

  async completeUpload(id: string): Promise<void> {
    const row = await this.sql.one(
      `update attachments set state = 'stored', stored_at = now() where id = ? and state = 'uploading' returning id`,
      [id],
    );
    if (!row) throw new StoreError('not_found', `upload ${id} not found`);
  }

  async dropUpload(id: string): Promise<void> {
    await this.sql.query(`delete from attachments where id = ? and state = 'uploading'`, [id]);
  }

  async postable(uploaderId: number, ids: string[]): Promise<AttachmentView[]> {
    if (ids.length === 0) return [];
    const rows = await this.sql.query(
      `select ${VIEW_COLUMNS} from attachments a where a.id in (${ids.map(() => '?').join(', ')}) and a.uploader_id = ? and a.state = 'stored'`,
      [...ids, uploaderId],
    );
    const byId = new Map(rows.map((r) => [r.id as string, toView(r)]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  async readable(id: string, userId: number): Promise<AttachmentView | null> {
    const row = await this.sql.one(
      `select ${VIEW_COLUMNS} from attachments a
       where a.id = ? and a.state = 'stored' and (a.uploader_id = ? or exists (
         select 1 from message_attachments ma
         join memberships m on m.channel_id = ma.channel_id and m.user_id = ?
         where ma.attachment_id = a.id))`,
      [id, userId, userId],
    );
    return row ? toView(row) : null;
  }

  async sweepable(before: number, limit: number): Promise<string[]> {
    const rows = await this.sql.query(
      `select a.id from attachments a where ${DUE} order by a.created_at limit ${Math.max(1, Math.floor(limit))}`,
      [isoTime(before)],
    );
    return rows.map((r) => r.id as string);
  }

  async sweep(id: string, before: number, removeBytes: () => Promise<void>): Promise<boolean> {
    try {
      return await this.sql.transaction(async (tx) => {
        const row = await this.sql.one(
          `delete from attachments a where a.id = ? and ${DUE} returning a.id`,
          [id, isoTime(before)],
          tx,
        );
        if (!row) return false;
        await removeBytes();
        return true;
      });
    } catch (err) {
      // A message linked it after the check: it is in use, not due.
      if (err instanceof StoreError && err.kind === 'not_found') return false;
      throw err;
    }
  }
}

export function toView(r: Row): AttachmentView {
  return {
    id: r.id as string,
    name: r.name as string,
    type: r.content_type as string,
    size: num(r.size),
    sha256: (r.sha256 as Buffer).toString('hex'),
  };
}
