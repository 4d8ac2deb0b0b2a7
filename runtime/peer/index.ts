/** Pod-to-pod links: authenticated, multiplexed, bounded. See server.ts and client.ts for who opens what. */
export { PeerServer, type PeerHandler, type PeerServerOptions } from './server.js';
export { PeerClient, PeerLinkLostError, type PeerClientOptions, type PeerLinkState } from './client.js';
export { PeerLinks, type PeerLinksOptions } from './links.js';
export { DEFAULT_PEER_LIMITS, type PeerIdentity, type PeerLimits } from './wire.js';
export { PeerAuthError } from './auth.js';
