from pvc.master.ratelimit import PeerLimiter, TokenBucket


def test_bucket_refills_at_rate():
    b = TokenBucket(rate=10, burst=2, now=0.0)
    assert b.take(now=0.0) and b.take(now=0.0) and not b.take(now=0.0)
    assert b.take(now=0.1) and not b.take(now=0.1)


def test_peer_limiter_is_per_peer_and_bounded():
    lim = PeerLimiter(rate=1, burst=1, max_peers=2)
    assert lim.allow(b"a", 0.0) and not lim.allow(b"a", 0.0)
    assert lim.allow(b"b", 0.0)
    lim.allow(b"c", 0.0)
    assert len(lim._buckets) == 2
