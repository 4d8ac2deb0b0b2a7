import type { ChannelInfo, MemberView, MessageView, Results, Role } from '../../protocol/messages.js';
import type { UserRecord } from '../../runtime/ports.js';

/** The subscribe reply, plus the users given that are not members (any more): the pod drops their follows. */
export type FollowResult = Results['subscribe'] & {
  notMembers?: number[];
  /** Messages edited or deleted while a delivery to the pod was dropped, in their state now. */
  amended?: MessageView[];
};

/** Who is asking: the authenticated user, and the connection and pod the request came from. */
export interface Caller {
  user: number;
  name: string;
  conn: number;
  pod: string;
}

export interface HistoryArgs {
  before?: number;
  after?: number;
  limit?: number;
}

/** The messages a channel actor answers; each handler gets one argument. */
export interface ChannelProtocol {
  join(a: Caller): ChannelInfo;
  leave(a: Caller): Record<string, never>;
  invite(a: Caller & { target: UserRecord }): Record<string, never>;
  kick(a: Caller & { target: UserRecord }): Record<string, never>;
  role(a: Caller & { target: UserRecord; role: Exclude<Role, 'owner'> }): Record<string, never>;
  send(a: Caller & { cmid: string; body: string; attachments?: string[] }): Results['send'];
  edit(a: Caller & { seq: number; body: string }): Results['edit'];
  delete(a: Caller & { seq: number }): Results['delete'];
  history(a: Caller & HistoryArgs): Results['history'];
  /** The caller's pod follows the channel; `userFirst` when it is the user's first connection there. */
  subscribe(a: Caller & { after?: number; userFirst: boolean }): Results['subscribe'];
  unsubscribe(a: Caller & { userLeft: boolean; podEmpty: boolean }): Record<string, never>;
  /**
   * A pod follows the channel again after its owner changed, for the users it
   * serves, from the last seq it delivered; the reply replays the gap.
   */
  follow(a: { pod: string; after?: number; users: { user: number; name: string }[] }): FollowResult;
  /**
   * Pods that left the cluster: stop delivering to them; their users go
   * offline. `rejoined` are among them but registered again (a lease lost and
   * regained): they are told to follow again.
   */
  podsGone(a: { pods: string[]; rejoined?: string[] }): Record<string, never>;
  read(a: Caller & { seq: number }): Results['read'];
  who(a: Caller): { members: MemberView[] };
  typing(a: Caller): Record<string, never>;
}

export type { MessageView };
