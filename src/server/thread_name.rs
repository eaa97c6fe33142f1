//! musl only: our own `pthread_setname_np`, which std calls once, from the
//! thread being named (async-io's reactor thread). musl's formats
//! `/proc/self/task/%d/comm` with `snprintf` for the general case and so links
//! its whole printf (12 KB of the 300 KB mipsel binary); naming the calling
//! thread needs only `prctl(PR_SET_NAME)`. Defining the symbol here keeps
//! musl's object file out of the static link.

/// Names `thread` when it is the calling thread (the only way std uses it);
/// for any other thread it does nothing and reports success, as a name is
/// cosmetic.
#[no_mangle]
pub extern "C" fn pthread_setname_np(
    thread: libc::pthread_t,
    name: *const libc::c_char,
) -> libc::c_int {
    // SAFETY: pthread_self has no preconditions. PR_SET_NAME reads at most 16
    // bytes from `name`, which the caller (std) passes as a NUL-terminated
    // string it keeps alive across the call, as pthread_setname_np requires.
    unsafe {
        if libc::pthread_equal(thread, libc::pthread_self()) == 0 {
            return 0;
        }
        if libc::prctl(libc::PR_SET_NAME, name as libc::c_ulong, 0, 0, 0) == 0 {
            0
        } else {
            *libc::__errno_location()
        }
    }
}
