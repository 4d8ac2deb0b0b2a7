import { randomBytes } from 'node:crypto';

/** A new attachment id: 22 base64url characters from 128 random bits. */
export function newAttachmentId(): string {
  return randomBytes(16).toString('base64url');
}

/** Where an attachment's bytes live in the blob store. */
export function attachmentKey(id: string): string {
  return `attachments/${id}`;
}
