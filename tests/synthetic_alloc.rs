//! The synthetic market allocates nothing per message after `new` (it runs on the feed thread).

use tickwire::core::alloc::thread_allocations;
use tickwire::feed::synthetic::{SyntheticConfig, SyntheticMarket, MAX_MESSAGE_LEN};

#[test]
fn next_message_never_allocates() {
    let mut m = SyntheticMarket::new(&SyntheticConfig::default());
    let mut out = Vec::with_capacity(MAX_MESSAGE_LEN);
    let before = thread_allocations();
    let mut bytes = 0usize;
    for _ in 0..1_000_000 {
        m.next_message(&mut out);
        bytes += out.len();
    }
    assert_eq!(thread_allocations() - before, 0);
    assert!(bytes > 100_000_000);
}
