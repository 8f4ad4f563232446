import pytest

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


def test_wait_says_when_the_next_token_comes_and_takes_none() -> None:
    bucket = TokenBucket(rate=4.0, burst=2.0, now=0.0)
    assert bucket.wait(1.0, now=0.0) == 0.0  # saved up: now
    assert bucket.take(2.0, now=0.0) and not bucket.take(1.0, now=0.0)
    assert bucket.wait(1.0, now=0.0) == 0.25 and bucket.wait(1.0, now=0.1) == pytest.approx(0.15)
    assert bucket.wait(1.0, now=0.25) == 0.0 and bucket.take(1.0, now=0.25)  # wait took nothing
