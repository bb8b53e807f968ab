//! A panic on purpose, for the tests of the panic hook (`tests/tui.rs`): in debug builds
//! only, and only when `CHUNKSCOPE_TEST_PANIC` asks for it. Called on the UI thread once
//! the first frame is drawn, so the terminal is in raw mode on the alternate screen.

/// `CHUNKSCOPE_TEST_PANIC=ui` panics here, on the UI thread; `=worker` panics on a thread
/// of its own (as a background job would), which the hook routes to the log.
pub fn on_purpose() {
    if !cfg!(debug_assertions) {
        return;
    }
    match std::env::var("CHUNKSCOPE_TEST_PANIC").as_deref() {
        Ok("ui") => panic!("a panic on purpose (CHUNKSCOPE_TEST_PANIC=ui)"),
        Ok("worker") => drop(std::thread::spawn(|| {
            panic!("a panic on purpose (CHUNKSCOPE_TEST_PANIC=worker)")
        })),
        _ => {}
    }
}
