import { Migration } from '@mikro-orm/migrations';

/**
 * Attachments: one row per upload (its bytes live in the blob store under
 * `attachments/<id>`), a link per message that carries it, and the message's
 * own copy of the attachments' descriptions so history reads need no join.
 * The links are what download permission and cleanup look at.
 */
export class Migration0003Attachments extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table attachments (
      id text primary key,
      uploader_id bigint not null references users (id),
      name text not null,
      content_type text not null,
      size bigint not null check (size >= 0),
      sha256 bytea not null check (length(sha256) = 32),
      state text not null default 'uploading' check (state in ('uploading', 'stored')),
      created_at timestamptz not null default now(),
      stored_at timestamptz null
    )`);
    this.addSql(`create index attachments_uploader_idx on attachments (uploader_id)`);
    this.addSql(`create index attachments_created_idx on attachments (created_at)`);
    this.addSql(`create table message_attachments (
      channel_id bigint not null,
      seq bigint not null,
      attachment_id text not null references attachments (id),
      primary key (channel_id, seq, attachment_id),
      foreign key (channel_id, seq) references messages (channel_id, seq) on delete cascade
    )`);
    this.addSql(`create index message_attachments_attachment_idx on message_attachments (attachment_id, channel_id)`);
    this.addSql(`alter table messages add column attachments jsonb null`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table messages drop column attachments`);
    this.addSql(`drop table message_attachments`);
    this.addSql(`drop table attachments`);
  }
}
