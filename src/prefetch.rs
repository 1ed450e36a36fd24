//! Software prefetching: asking the memory system for a cache line ahead of
//! its use, so that misses on unrelated data overlap instead of waiting one
//! behind the other. Used where the order of work is known a batch ahead
//! (the bulk build, a change's lists, a page's records).

/// A hint that the cache line at `p` will be read soon (a no-op where the
/// machine has no such hint).
#[inline(always)]
pub(crate) fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
