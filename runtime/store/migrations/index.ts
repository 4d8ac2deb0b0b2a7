/**
 * Every migration, in order. Listed explicitly so that nothing is discovered
 * from disk at runtime (a bundled or compiled build has no .ts files to glob).
 * Append only: a released migration's name and content never change.
 */
import type { MigrationObject } from '@mikro-orm/core';
import { Migration0001Initial } from './0001-initial.js';
import { Migration0002Snapshots } from './0002-snapshots.js';
import { Migration0003Attachments } from './0003-attachments.js';

export const migrationsList: MigrationObject[] = [
  { name: '0001-initial', class: Migration0001Initial },
  { name: '0002-snapshots', class: Migration0002Snapshots },
  { name: '0003-attachments', class: Migration0003Attachments },
];
