/**
 * How a channel's owner reaches its followers: one delivery per subscribed
 * pod, never one per user. The pod's hub writes the bytes to its connections.
 */

export interface Delivery {
  channel: number;
  /** One or more encoded client frames, back to back, written as they are. */
  frame: Buffer;
  /** Highest message seq inside, when it carries messages: the pod's resume point. */
  seq?: number;
  /** A connection not to write to (the typist of a typing event), on `exceptPod`. */
  exceptConn?: number;
  exceptPod?: string;
  /** Ends this user's subscriptions to the channel on every pod (kick, leave), after writing the frame. */
  dropUser?: number;
  /** An edit or delete of this message seq: a pod that misses it gets the message's state when it follows again. */
  amends?: number;
  /** Ephemeral (presence, typing): the pod may hold it briefly to share writes. */
  ephemeral?: boolean;
  /** The owner is going away (handoff, lost lease): follow the channel again wherever it lands. */
  moved?: boolean;
}

/**
 * Sends a delivery to each of the given pods (this one included) and returns
 * the pods it could not reach now (their link congested or down); those are
 * told later to follow the channel again.
 */
export type Fanout = (pods: Iterable<string>, delivery: Delivery) => readonly string[];

/** What a pod's hub reports when a connection stops following a channel. */
export interface Unfollow {
  channel: number;
  /** The user has no other connection on this pod following the channel. */
  userLeft: boolean;
  /** No connection on this pod follows the channel any more. */
  podEmpty: boolean;
}
