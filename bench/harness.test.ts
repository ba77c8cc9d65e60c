// Tests for the bench harness's arithmetic: medians, and "ours Nx" taken from the repetitions that
// alternated with the peer when there are some (else from our own median); none for a skipped peer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { median, speedup } from './harness.ts';

test('median of odd and even counts, unsorted input left alone', () => {
  const xs = [5, 1, 3];
  assert.is(median(xs), 3);
  assert.equal(xs, [5, 1, 3]);
  assert.is(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

test('speedup prefers the alternated median and is undefined without a peer time', () => {
  assert.is(speedup({ ms: 300, ours_ms: 50 }, 40), 6);
  assert.is(speedup({ ms: 300 }, 40), 7.5);
  assert.is(speedup({ skipped: 'no TF.js' }, 40), undefined);
  assert.is(speedup({ ms: 300, ours_ms: 0 }, 0), undefined);
});

test.run();
