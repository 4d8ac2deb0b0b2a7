import test from 'ava';
import { startCluster, type TestCluster } from '../harness/cluster.js';
import { usePostgres } from '../harness/server.js';
import { LEASE_MS, killOwnerUnderTraffic } from './failover-scenario.js';

const postgres = usePostgres(test);
let cluster: TestCluster;

test.before(async () => {
  cluster = await startCluster(await postgres(), { size: 3, leaseMs: LEASE_MS });
});
test.after.always(async () => {
  await cluster?.stop();
});

test.serial('SIGKILL the owner under traffic: survivors take over, nothing acknowledged is lost', (t) => killOwnerUnderTraffic(t, cluster));
