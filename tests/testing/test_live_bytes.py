"""PeakLiveBytes counts each storage an op makes once, from the op to its release."""

from __future__ import annotations

import torch

from turbodiffusion.testing.live_bytes import PeakLiveBytes


def test_views_and_in_place_results_are_not_counted_again():
    with PeakLiveBytes() as count:
        a = torch.empty(1000, device="meta")  # 4,000 bytes
        view = a.view(10, 100)
        a.add_(1)
        assert count.live == count.peak == 4000
        del a
        assert count.live == 4000  # the view keeps the storage alive
        del view
        assert count.live == 0 and count.peak == 4000


def test_temporaries_count_toward_the_peak_until_freed():
    x = torch.ones(64, 64)  # made before the count: not counted
    with PeakLiveBytes() as count:
        y = (x * 2) @ (x + 1)  # two temporaries of 16,384 bytes, then the result
    assert count.live == 16384 and count.peak == 3 * 16384
    assert torch.equal(y, torch.full((64, 64), 256.0))


def test_a_storage_freed_and_remade_is_counted_again():
    with PeakLiveBytes() as count:
        for _ in range(3):
            t = torch.empty(250)  # 1,000 bytes; the previous one is freed when t is rebound
        assert count.live == 1000 and count.peak == 2000
        del t
    assert count.live == 0
