import test from 'ava';
import { DeliveryPacer } from '../../runtime/gateway/delivery-pacer.js';

test('no gap while the event loop has room; the whole gap once it is busy; a proportional part between', (t) => {
  const p = new DeliveryPacer(50);
  t.is(p.gapMs, 0, 'none before any sample');
  for (const [utilization, gap] of [[0, 0], [0.3, 0], [0.5, 0], [0.65, 25], [0.8, 50], [0.95, 50], [1, 50]] as const) {
    p.update(utilization);
    t.is(Math.round(p.gapMs), gap, `utilization ${utilization}`);
  }
  p.update(0.2);
  t.is(p.gapMs, 0, 'back to none when the load goes');
});

test('a gap of 0 never spaces anything, however busy', (t) => {
  const p = new DeliveryPacer(0);
  p.update(1);
  t.is(p.gapMs, 0);
  p.start();
  p.stop();
});
