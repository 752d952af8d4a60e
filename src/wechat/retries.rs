//! How many of the callbacks lately were WeChat's retries of a message already claimed.
//!
//! Rendering a reply before the claim (`wechat.callback_reply_first = "auto"` with Redis) saves
//! a store command on every first delivery and wastes a rendered, in safe mode sealed, reply on
//! every retry. Retries are rare while the service answers inside WeChat's 5 s and come in
//! floods when it does not; the callback renders first only while most callbacks are first
//! deliveries, so a flood of retries costs one store command each and nothing else.

use std::sync::atomic::{AtomicU32, Ordering};

/// The share in fixed point: `ONE` is every callback a retry.
const ONE: u32 = 1 << 16;
/// Each callback moves the estimate 1/32 of the way to its own outcome: about the last hundred
/// callbacks count.
const WEIGHT_SHIFT: u32 = 5;

/// An exponentially weighted share of retries among the callbacks, shared by the workers.
#[derive(Debug, Default)]
pub struct RetryShare {
    share: AtomicU32,
}

impl RetryShare {
    /// Counts one claimed callback: a retry (the key was there) or a first delivery.
    pub fn record(&self, retry: bool) {
        // A plain load and store, not a compare-and-swap loop: two workers recording at once
        // lose one step of an estimate, which is all it is.
        let old = self.share.load(Ordering::Relaxed);
        let target = if retry { ONE } else { 0 };
        let new =
            if target > old { old + ((target - old) >> WEIGHT_SHIFT) } else { old - ((old - target) >> WEIGHT_SHIFT) };
        self.share.store(new, Ordering::Relaxed);
    }

    /// True while fewer than half of the recent callbacks were retries.
    pub fn mostly_first_deliveries(&self) -> bool {
        self.share.load(Ordering::Relaxed) < ONE / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_retries_turns_it_and_first_deliveries_turn_it_back() {
        let share = RetryShare::default();
        assert!(share.mostly_first_deliveries(), "nothing seen yet: first deliveries");
        // One retry in ten, as when a few answers were slow: still mostly first deliveries.
        for i in 0..1000 {
            share.record(i % 10 == 0);
        }
        assert!(share.mostly_first_deliveries());
        // Every callback a retry (the service fell behind WeChat's 5 s): within a few dozen.
        let turned = (1..=100).find(|_| {
            share.record(true);
            !share.mostly_first_deliveries()
        });
        assert!(turned.is_some_and(|n| n <= 40), "{turned:?}");
        // Answering in time again: back to first deliveries as quickly.
        let back = (1..=100).find(|_| {
            share.record(false);
            share.mostly_first_deliveries()
        });
        assert!(back.is_some_and(|n| n <= 40), "{back:?}");
    }

    #[test]
    fn three_retries_in_five_count_as_mostly_retries() {
        let share = RetryShare::default();
        for i in 0..1000 {
            share.record(i % 5 < 3);
        }
        assert!(!share.mostly_first_deliveries());
    }
}
