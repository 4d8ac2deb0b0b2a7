import test from 'ava';
import { useCluster } from '../harness/cluster.js';
import { LEASE_MS, killOwnerUnderTraffic } from './failover-scenario.js';

const cluster = useCluster(test, { size: 3, leaseMs: LEASE_MS });

test.serial('SIGKILL the owner under traffic: survivors take over, nothing acknowledged is lost', (t) => killOwnerUnderTraffic(t, cluster()));
