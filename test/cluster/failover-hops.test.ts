import test from 'ava';
import { useCluster } from '../harness/cluster.js';
import { LEASE_MS, killOwnerUnderTraffic } from './failover-scenario.js';

// With a single hop, a "not the owner" met while the channel moves reaches the
// user actors at once instead of being retried by the router: a resubscribe
// that meets one must still end with the connection following the channel.
const cluster = useCluster(test, { size: 3, leaseMs: LEASE_MS, extra: ['--max-hops', '1'] });

test.serial('SIGKILL the owner under traffic with one routing hop: NOT_OWNER answers during the move lose no follower', (t) => killOwnerUnderTraffic(t, cluster()));
