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
    assert len(lim) == 2


def test_peer_limiter_forgets_buckets_that_filled_up_again():
    """A fleet seen once is not remembered forever: a bucket untouched for burst / rate seconds
    is full, the same as a new one, and goes when a new peer comes."""
    lim = PeerLimiter(rate=10, burst=20)  # full 2 s after empty
    for k in range(1000):
        assert lim.allow(f"m{k}".encode(), 0.0)
    assert len(lim) == 1000
    assert lim.allow(b"m999", 1.0)  # used again: kept, the others are older
    assert lim.allow(b"new", 2.5)
    assert len(lim) == 2


def test_peer_limiter_keeps_a_busy_peer_empty():
    """Forgetting never refills a bucket that is still spent: a flooding peer stays limited."""
    lim = PeerLimiter(rate=1, burst=2)
    assert lim.allow(b"flood", 0.0) and lim.allow(b"flood", 0.0) and not lim.allow(b"flood", 0.0)
    for k in range(10):  # new peers come; the flooder's bucket (used at 0.5 s) is not full yet
        lim.allow(f"p{k}".encode(), 0.5)
    assert not lim.allow(b"flood", 0.5)
