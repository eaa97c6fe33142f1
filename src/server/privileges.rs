//! Dropping privileges after the sockets are bound: chroot into the root
//! directory and become an unprivileged user (as root), or just chdir.

use std::ffi::CStr;
use std::path::Path;

/// What was done, for the start-up log and for messages about files read
/// afterwards.
pub struct Dropped {
    /// Human-readable summary.
    pub summary: String,
    /// Who the tracker runs as now: `nobody (uid 65534)`.
    pub user: String,
    /// The directory relative paths start from (the chroot or the chdir),
    /// and whether it is a chroot (absolute paths are inside it too).
    pub dir: Option<(std::path::PathBuf, bool)>,
}

/// `uid N` with the user's name when /etc/passwd (as seen now) has it.
fn current_user() -> String {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let name = std::fs::read_to_string("/etc/passwd").ok().and_then(|t| {
        t.lines()
            .filter_map(passwd_line)
            .find(|&(_, id, _)| id == uid)
            .map(|(name, _, _)| name.to_string())
    });
    match name {
        Some(n) => format!("{n} (uid {uid})"),
        None => format!("uid {uid}"),
    }
}

struct Account {
    uid: libc::uid_t,
    gid: libc::gid_t,
}

fn not_found(name: &str) -> String {
    format!("user '{name}' does not exist (set tracker.user or -u)")
}

/// musl's getpwnam reads /etc/passwd (or asks nscd, which routers do not
/// run) and links printf for it: reading the file here keeps 13 KB out of
/// the static router builds.
#[cfg(target_env = "musl")]
fn lookup(name: &str) -> Result<Account, String> {
    let text = std::fs::read_to_string("/etc/passwd")
        .map_err(|e| format!("cannot read /etc/passwd to look up user '{name}': {e}"))?;
    passwd_entry(&text, name).ok_or_else(|| not_found(name))
}

/// Name, uid and gid of one /etc/passwd line (`name:pw:uid:gid:...`).
fn passwd_line(line: &str) -> Option<(&str, u32, u32)> {
    let mut f = line.split(':');
    let name = f.next()?;
    let _password = f.next()?;
    let uid = f.next()?.parse().ok()?;
    let gid = f.next()?.parse().ok()?;
    Some((name, uid, gid))
}

/// The uid and gid of `name` in /etc/passwd text.
#[cfg_attr(not(target_env = "musl"), allow(dead_code))]
fn passwd_entry(text: &str, name: &str) -> Option<Account> {
    text.lines()
        .filter_map(passwd_line)
        .find(|&(n, _, _)| n == name)
        .map(|(_, uid, gid)| Account { uid, gid })
}

#[cfg(not(target_env = "musl"))]
fn lookup(name: &str) -> Result<Account, String> {
    let cname = std::ffi::CString::new(name).map_err(|_| format!("invalid user name '{name}'"))?;
    // SAFETY: passwd is plain data (all-zero is a valid value to pass in).
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to live, correctly sized storage owned here.
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return Err(not_found(name));
    }
    Ok(Account {
        uid: pw.pw_uid,
        gid: pw.pw_gid,
    })
}

fn os_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// Work done in the final root directory while the process may still be
/// root (files to create for the user to be: uid and gid given when root).
pub type Prepare<'a> = &'a mut dyn FnMut(Option<(u32, u32)>) -> Result<(), String>;

/// As root: look up `user` (default `nobody`), chroot into `rootdir` if set,
/// run `prepare`, then drop groups, gid and uid. Otherwise: chdir into
/// `rootdir` if set and run `prepare`.
pub fn drop_privileges(
    rootdir: Option<&Path>,
    user: Option<&str>,
    prepare: Prepare<'_>,
) -> Result<Dropped, String> {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        if let Some(dir) = rootdir {
            std::env::set_current_dir(dir)
                .map_err(|e| format!("cannot chdir to {}: {e}", dir.display()))?;
            prepare(None)?;
            return Ok(Dropped {
                summary: format!("not root: working directory {}", dir.display()),
                user: current_user(),
                dir: Some((dir.to_path_buf(), false)),
            });
        }
        prepare(None)?;
        return Ok(Dropped {
            summary: "not root: privileges unchanged".into(),
            user: current_user(),
            dir: None,
        });
    }
    let name = user.unwrap_or("nobody");
    // Before the chroot: /etc/passwd is outside it.
    let account = lookup(name)?;
    let mut summary = String::new();
    if let Some(dir) = rootdir {
        std::env::set_current_dir(dir)
            .map_err(|e| format!("cannot chdir to {}: {e}", dir.display()))?;
        let dot: &CStr = c".";
        // SAFETY: dot is a valid NUL-terminated path.
        if unsafe { libc::chroot(dot.as_ptr()) } != 0 {
            return Err(os_err(&format!("cannot chroot to {}", dir.display())));
        }
        std::env::set_current_dir("/")
            .map_err(|e| format!("cannot chdir to / in the chroot: {e}"))?;
        summary.push_str(&format!("chroot {}, ", dir.display()));
    }
    prepare(Some((account.uid, account.gid)))?;
    // SAFETY: plain syscalls with scalar arguments; setgroups gets an empty list.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(os_err("setgroups"));
        }
        if libc::setgid(account.gid) != 0 {
            return Err(os_err("setgid"));
        }
        if libc::setuid(account.uid) != 0 {
            return Err(os_err("setuid"));
        }
        if account.uid != 0 && libc::setuid(0) == 0 {
            return Err("privileges could not be dropped (setuid(0) still works)".into());
        }
    }
    summary.push_str(&format!(
        "running as {name} (uid {}, gid {})",
        account.uid, account.gid
    ));
    Ok(Dropped {
        summary,
        user: format!("{name} (uid {})", account.uid),
        dir: rootdir.map(|d| (d.to_path_buf(), true)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lines_give_uid_and_gid_of_the_exact_name() {
        let text = "root:x:0:0:root:/root:/bin/ash\n\
                    nobody:*:65534:65534:nobody:/var:/bin/false\n\
                    broken:x:abc:1::/:\n\
                    network:x:101:101::/var:/bin/false\n";
        let ids = |name| passwd_entry(text, name).map(|a| (a.uid, a.gid));
        assert_eq!(ids("nobody"), Some((65534, 65534)));
        assert_eq!(ids("network"), Some((101, 101)));
        assert_eq!(ids("root"), Some((0, 0)));
        assert_eq!(ids("nob"), None, "a prefix is not the name");
        assert_eq!(ids("broken"), None, "a malformed uid is no entry");
        assert_eq!(ids("ghost"), None);
    }
}
