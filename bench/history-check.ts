/**
 * The end-of-run check of a failover measurement: the channel's history, read
 * with the client library's paging, is gap-free from 1, stores no cmid or body
 * twice, and holds every acknowledged message exactly once, at its acked seq.
 */
import type { TertuliaClient } from '../protocol/client/index.js';
import type { MessageView } from '../protocol/messages.js';
import type { SentAck } from './steady-sender.js';

export interface HistoryCheck {
  historyLength: number;
  lastSeq: number;
  acked: number;
  /** Seqs missing from 1..lastSeq, and seqs seen more than once. */
  gaps: number;
  repeatedSeqs: number;
  /** Messages stored under a cmid (or body) already stored. */
  duplicateCmids: number;
  duplicateBodies: number;
  /** Acks whose seq is absent from history or holds another body. */
  ackedMissing: number;
  /** Acknowledged bodies found other than exactly once. */
  ackedNotOnce: number;
  /** Stored messages of this sender that were never acknowledged (the send gave up, or was in flight at the end). */
  storedUnacked: number;
  ok: boolean;
}

export async function fullHistory(c: TertuliaClient, channel: number): Promise<MessageView[]> {
  const all: MessageView[] = [];
  let after = 0;
  for (;;) {
    const page = await c.history(channel, { after, limit: 200 }, { retry: true, timeoutMs: 30_000 });
    all.push(...page.messages);
    if (!page.more || page.messages.length === 0) return all;
    after = page.messages.at(-1)!.seq;
  }
}

export function checkHistory(history: readonly MessageView[], acks: readonly SentAck[], tag: string): HistoryCheck {
  const seqs = history.map((m) => m.seq);
  const lastSeq = seqs.length ? Math.max(...seqs) : 0;
  const seen = new Set<number>();
  let repeatedSeqs = 0;
  for (const s of seqs) {
    if (seen.has(s)) repeatedSeqs++;
    seen.add(s);
  }
  let gaps = 0;
  for (let s = 1; s <= lastSeq; s++) if (!seen.has(s)) gaps++;
  const dupes = (values: string[]): number => values.length - new Set(values).size;
  const bySeq = new Map(history.map((m) => [m.seq, m]));
  const bodyCount = new Map<string, number>();
  for (const m of history) bodyCount.set(m.body, (bodyCount.get(m.body) ?? 0) + 1);
  const ackedBodies = new Set(acks.map((a) => a.body));
  const r: HistoryCheck = {
    historyLength: history.length,
    lastSeq,
    acked: acks.length,
    gaps,
    repeatedSeqs,
    duplicateCmids: dupes(history.map((m) => m.cmid)),
    duplicateBodies: dupes(history.map((m) => m.body)),
    ackedMissing: acks.filter((a) => bySeq.get(a.seq)?.body !== a.body).length,
    ackedNotOnce: acks.filter((a) => bodyCount.get(a.body) !== 1).length,
    storedUnacked: history.filter((m) => m.body.startsWith(`${tag}:`) && !ackedBodies.has(m.body)).length,
    ok: false,
  };
  r.ok = r.gaps === 0 && r.repeatedSeqs === 0 && r.duplicateCmids === 0 && r.duplicateBodies === 0 && r.ackedMissing === 0 && r.ackedNotOnce === 0;
  return r;
}
