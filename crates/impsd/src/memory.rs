//! The server process's memory as the OS sees it (issue 19).

/// Keeps the process's memory in 4 KiB pages: no transparent huge pages.
///
/// mimalloc asks for huge pages (`MADV_HUGEPAGE`) on the memory it takes
/// from the OS, so a 2 MiB page is resident as soon as a few of its bytes
/// are used: at 10,000 idle sessions that was about a quarter of the
/// server's RSS (docs/benchmarks.md, section 28). This is what mimalloc's
/// own `allow_thp=0` option does. A failure (an old kernel) changes
/// nothing but the memory figures, so it is only logged.
pub fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        eprintln!("impsd: transparent huge pages stay on: {e}");
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[test]
    fn the_process_asks_for_no_huge_pages() {
        super::no_transparent_huge_pages();
        assert_eq!(nix::sys::prctl::get_thp_disable(), Ok(true));
    }
}
