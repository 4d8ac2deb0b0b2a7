import { Migration } from '@mikro-orm/migrations';

/**
 * History snapshots: `messages.changed_at` marks edits and deletes so a later
 * segment can carry them as amendments; `snapshots` records every segment
 * written to the blob store.
 */
export class Migration0002Snapshots extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table messages add column changed_at timestamptz null`);
    this.addSql(`create index messages_changed_idx on messages (channel_id, changed_at) where changed_at is not null`);
    this.addSql(`create table snapshots (
      channel_id bigint not null references channels (id),
      from_seq bigint not null,
      to_seq bigint not null,
      key text not null,
      epoch bigint not null,
      messages int not null,
      amendments int not null,
      bytes int not null,
      created_at timestamptz not null default now(),
      primary key (channel_id, key)
    )`);
    this.addSql(`create index snapshots_range_idx on snapshots (channel_id, to_seq)`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table snapshots`);
    this.addSql(`drop index messages_changed_idx`);
    this.addSql(`alter table messages drop column changed_at`);
  }
}
