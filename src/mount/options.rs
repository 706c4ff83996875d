//! Mount option words, as mount(8) "FILESYSTEM-INDEPENDENT MOUNT OPTIONS" lists them.
//!
//! One table maps each word to what it does: set or clear an `MS_*` flag of
//! mount(2), ask for an operation that needs its own mount(2) call (propagation
//! changes), or stay in userspace (`nofail`, `loop`, ...). Words the table does
//! not know are filesystem options and go, in order, into mount(2)'s `data`.
#![forbid(unsafe_code)]

use crate::text::{parse_size, unquote};
use nix::mount::MsFlags;
use std::fmt;

/// `MS_NOSYMFOLLOW` (Linux 5.10), missing from nix's `MsFlags`.
pub const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(256);

/// The propagation flags: the kernel accepts one of them per mount(2) call.
pub const MS_PROPAGATION: MsFlags =
    MsFlags::MS_SHARED.union(MsFlags::MS_SLAVE).union(MsFlags::MS_PRIVATE).union(MsFlags::MS_UNBINDABLE);

/// Flags a bind mount ignores on its first call; they take a second
/// `MS_REMOUNT|MS_BIND` call (libmount's `MNT_BIND_SETTABLE`).
pub const BIND_SETTABLE: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC)
    .union(MsFlags::MS_NOATIME)
    .union(MsFlags::MS_NODIRATIME)
    .union(MsFlags::MS_RELATIME)
    .union(MsFlags::MS_RDONLY)
    .union(MS_NOSYMFOLLOW);

/// What one option word does.
#[derive(Clone, Copy, Debug)]
enum Effect {
    /// Set flags of the main mount(2) call (also bind, rbind, remount, move).
    Set(MsFlags),
    /// Clear flags of the main mount(2) call.
    Clear(MsFlags),
    /// A propagation change: a mount(2) call of its own, after the main one.
    Propagation(MsFlags),
    /// Never reaches the kernel.
    User(UserWord),
}

#[derive(Clone, Copy, Debug)]
enum UserWord {
    Ignored,
    Auto,
    NoAuto,
    NetDev,
    NoFail,
    Loop,
    Offset,
    SizeLimit,
}

/// How a word takes a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arg {
    /// `word` only.
    None,
    /// `word` or `word=value`.
    Optional,
    /// `word=value` only.
    Required,
    /// any word starting with the name (`x-foo`, `X-mount.mkdir`).
    Prefix,
}

struct Word {
    name: &'static str,
    arg: Arg,
    effect: Effect,
}

const fn set(name: &'static str, flags: MsFlags) -> Word {
    Word { name, arg: Arg::None, effect: Effect::Set(flags) }
}
const fn clear(name: &'static str, flags: MsFlags) -> Word {
    Word { name, arg: Arg::None, effect: Effect::Clear(flags) }
}
const fn propagation(name: &'static str, flags: MsFlags) -> Word {
    Word { name, arg: Arg::None, effect: Effect::Propagation(flags) }
}
const fn user(name: &'static str, arg: Arg, word: UserWord) -> Word {
    Word { name, arg, effect: Effect::User(word) }
}

/// The words of util-linux 2.38 libmount's `linux_flags_map` and
/// `userspace_opts_map` (libmount/src/optmap.c), plus `move` (mount --move).
const WORDS: &[Word] = &[
    set("ro", MsFlags::MS_RDONLY),
    clear("rw", MsFlags::MS_RDONLY),
    clear("exec", MsFlags::MS_NOEXEC),
    set("noexec", MsFlags::MS_NOEXEC),
    clear("suid", MsFlags::MS_NOSUID),
    set("nosuid", MsFlags::MS_NOSUID),
    clear("dev", MsFlags::MS_NODEV),
    set("nodev", MsFlags::MS_NODEV),
    set("sync", MsFlags::MS_SYNCHRONOUS),
    clear("async", MsFlags::MS_SYNCHRONOUS),
    set("dirsync", MsFlags::MS_DIRSYNC),
    set("remount", MsFlags::MS_REMOUNT),
    set("bind", MsFlags::MS_BIND),
    set("rbind", MsFlags::MS_BIND.union(MsFlags::MS_REC)),
    set("move", MsFlags::MS_MOVE),
    set("silent", MsFlags::MS_SILENT),
    clear("loud", MsFlags::MS_SILENT),
    set("mand", MsFlags::MS_MANDLOCK),
    clear("nomand", MsFlags::MS_MANDLOCK),
    clear("atime", MsFlags::MS_NOATIME),
    set("noatime", MsFlags::MS_NOATIME),
    set("iversion", MsFlags::MS_I_VERSION),
    clear("noiversion", MsFlags::MS_I_VERSION),
    clear("diratime", MsFlags::MS_NODIRATIME),
    set("nodiratime", MsFlags::MS_NODIRATIME),
    set("relatime", MsFlags::MS_RELATIME),
    clear("norelatime", MsFlags::MS_RELATIME),
    set("strictatime", MsFlags::MS_STRICTATIME),
    clear("nostrictatime", MsFlags::MS_STRICTATIME),
    set("lazytime", MsFlags::MS_LAZYTIME),
    clear("nolazytime", MsFlags::MS_LAZYTIME),
    clear("symfollow", MS_NOSYMFOLLOW),
    set("nosymfollow", MS_NOSYMFOLLOW),
    propagation("unbindable", MsFlags::MS_UNBINDABLE),
    propagation("runbindable", MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC)),
    propagation("private", MsFlags::MS_PRIVATE),
    propagation("rprivate", MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)),
    propagation("slave", MsFlags::MS_SLAVE),
    propagation("rslave", MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
    propagation("shared", MsFlags::MS_SHARED),
    propagation("rshared", MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
    user("defaults", Arg::None, UserWord::Ignored),
    user("auto", Arg::None, UserWord::Auto),
    user("noauto", Arg::None, UserWord::NoAuto),
    user("user", Arg::Optional, UserWord::Ignored),
    user("nouser", Arg::None, UserWord::Ignored),
    user("users", Arg::None, UserWord::Ignored),
    user("nousers", Arg::None, UserWord::Ignored),
    user("owner", Arg::None, UserWord::Ignored),
    user("noowner", Arg::None, UserWord::Ignored),
    user("group", Arg::None, UserWord::Ignored),
    user("nogroup", Arg::None, UserWord::Ignored),
    user("_netdev", Arg::None, UserWord::NetDev),
    user("comment", Arg::Required, UserWord::Ignored),
    user("x-", Arg::Prefix, UserWord::Ignored),
    user("X-", Arg::Prefix, UserWord::Ignored),
    user("loop", Arg::Optional, UserWord::Loop),
    user("offset", Arg::Required, UserWord::Offset),
    user("sizelimit", Arg::Required, UserWord::SizeLimit),
    user("nofail", Arg::None, UserWord::NoFail),
];

/// A mount option string, split into what each part is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags of the main mount(2) call (propagation changes excluded).
    pub flags: MsFlags,
    /// Filesystem-specific words, comma-separated, for mount(2)'s `data`.
    pub data: String,
    /// Propagation changes in the order given; each is a mount(2) call of its own.
    pub propagation: Vec<MsFlags>,
    /// The last of `ro`/`rw`: `Some(false)` means `rw` was asked for explicitly,
    /// which forbids the read-only retry.
    pub read_only: Option<bool>,
    pub nofail: bool,
    pub noauto: bool,
    pub netdev: bool,
    /// `loop` or `loop=/dev/loopN` was given.
    pub loop_wanted: bool,
    /// The device named by `loop=`.
    pub loop_device: Option<String>,
    /// `offset=` for the loop device, in bytes.
    pub offset: Option<u64>,
    /// `sizelimit=` for the loop device, in bytes.
    pub sizelimit: Option<u64>,
}

impl Default for MountOptions {
    fn default() -> MountOptions {
        MountOptions {
            flags: MsFlags::empty(),
            data: String::new(),
            propagation: Vec::new(),
            read_only: None,
            nofail: false,
            noauto: false,
            netdev: false,
            loop_wanted: false,
            loop_device: None,
            offset: None,
            sizelimit: None,
        }
    }
}

/// An option string that cannot be used, with util-linux's wording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionError {
    pub options: String,
    pub reason: String,
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "failed to parse mount options '{}': {}", self.options, self.reason)
    }
}

impl std::error::Error for OptionError {}

/// One mount(2) call of a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// The main call, with source, type and data.
    Main(MsFlags),
    /// `mount("none", target, NULL, flags, NULL)` for a propagation change.
    Propagation(MsFlags),
    /// `mount("none", target, NULL, MS_REMOUNT|MS_BIND|flags, NULL)`: applies
    /// `ro`, `nosuid`... to a fresh bind mount, which ignored them.
    BindRemount(MsFlags),
}

impl MountOptions {
    /// Parses a comma-separated option string (several `-o` strings joined by
    /// commas are fine). Later words win over earlier ones; double quotes keep
    /// commas inside a value, as libmount's optstr parser does.
    pub fn parse(options: &str) -> Result<MountOptions, OptionError> {
        let mut out = MountOptions::default();
        let mut data: Vec<&str> = Vec::new();
        for item in split_options(options) {
            if item.is_empty() {
                continue;
            }
            let (name, value) = match item.find('=') {
                Some(i) => (&item[..i], Some(&item[i + 1..])),
                None => (item, None),
            };
            let Some(word) = lookup(item, name, value) else {
                data.push(item);
                continue;
            };
            let fail = |reason: &str| OptionError { options: options.to_string(), reason: reason.to_string() };
            match word.effect {
                Effect::Set(f) => {
                    out.flags.insert(f);
                    if f == MsFlags::MS_RDONLY {
                        out.read_only = Some(true);
                    }
                }
                Effect::Clear(f) => {
                    out.flags.remove(f);
                    if f == MsFlags::MS_RDONLY {
                        out.read_only = Some(false);
                    }
                }
                Effect::Propagation(f) => out.propagation.push(f),
                Effect::User(UserWord::Ignored) => {}
                Effect::User(UserWord::Auto) => out.noauto = false,
                Effect::User(UserWord::NoAuto) => out.noauto = true,
                Effect::User(UserWord::NetDev) => out.netdev = true,
                Effect::User(UserWord::NoFail) => out.nofail = true,
                Effect::User(UserWord::Loop) => {
                    out.loop_wanted = true;
                    out.loop_device = value.filter(|v| !v.is_empty()).map(|v| unquote(v, &['"']).to_string());
                }
                Effect::User(UserWord::Offset) => {
                    out.offset = Some(parse_size(unquote(value.unwrap_or(""), &['"'])).map_err(|_| fail("bad offset"))?)
                }
                Effect::User(UserWord::SizeLimit) => {
                    out.sizelimit =
                        Some(parse_size(unquote(value.unwrap_or(""), &['"'])).map_err(|_| fail("bad sizelimit"))?)
                }
            }
        }
        out.data = data.join(",");
        Ok(out)
    }

    /// True when the options ask for a loop device (`loop`, `offset=`, `sizelimit=`).
    pub fn wants_loop(&self) -> bool {
        self.loop_wanted || self.offset.is_some() || self.sizelimit.is_some()
    }

    /// True when nothing but propagation changes were asked for
    /// (`mount --make-private /mnt`): there is no main mount(2) call.
    pub fn propagation_only(&self) -> bool {
        !self.propagation.is_empty() && (self.flags - MsFlags::MS_SILENT).is_empty() && self.data.is_empty()
    }

    /// The mount(2) calls these options need, in order: the main call, one
    /// call per propagation change, then the bind remount for `bind,ro` and
    /// friends (libmount's `init_propagation` and `init_bind_remount`).
    pub fn calls(&self) -> Vec<Call> {
        let mut calls = Vec::new();
        if !self.propagation_only() {
            calls.push(Call::Main(self.flags));
        }
        let silent = self.flags & MsFlags::MS_SILENT;
        calls.extend(self.propagation.iter().map(|&p| Call::Propagation(p | silent)));
        if self.flags.contains(MsFlags::MS_BIND)
            && self.flags.intersects(BIND_SETTABLE)
            && !self.flags.contains(MsFlags::MS_REMOUNT)
        {
            // MS_REC means nothing to a remount; keep the rest as given.
            let flags = (self.flags - MsFlags::MS_REC) | MsFlags::MS_REMOUNT | MsFlags::MS_BIND;
            calls.push(Call::BindRemount(flags));
        }
        calls
    }
}

/// Finds the table entry for one option word.
fn lookup(item: &str, name: &str, value: Option<&str>) -> Option<&'static Word> {
    WORDS.iter().find(|w| match w.arg {
        Arg::None => item == w.name,
        Arg::Optional => name == w.name,
        Arg::Required => name == w.name && value.is_some(),
        Arg::Prefix => item.starts_with(w.name),
    })
}

/// Splits at commas that are not inside double quotes.
fn split_options(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// Renders flags as the kernel shows them in /proc/mounts (fs/proc_namespace.c):
/// `ro`/`rw`, then the superblock flags, then the per-mount flags.
pub fn flags_to_string(flags: MsFlags) -> String {
    const SHOWN: &[(MsFlags, &str)] = &[
        (MsFlags::MS_SYNCHRONOUS, "sync"),
        (MsFlags::MS_DIRSYNC, "dirsync"),
        (MsFlags::MS_MANDLOCK, "mand"),
        (MsFlags::MS_LAZYTIME, "lazytime"),
        (MsFlags::MS_NOSUID, "nosuid"),
        (MsFlags::MS_NODEV, "nodev"),
        (MsFlags::MS_NOEXEC, "noexec"),
        (MsFlags::MS_NOATIME, "noatime"),
        (MsFlags::MS_NODIRATIME, "nodiratime"),
        (MsFlags::MS_RELATIME, "relatime"),
        (MS_NOSYMFOLLOW, "nosymfollow"),
    ];
    let mut out = String::from(if flags.contains(MsFlags::MS_RDONLY) { "ro" } else { "rw" });
    for (flag, word) in SHOWN {
        if flags.contains(*flag) {
            out.push(',');
            out.push_str(word);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_data_in_order() {
        let o = MountOptions::parse("noatime,compress=zstd,nosuid,subvol=@data,ro,rw,x-gvfs-show,nofail").unwrap();
        assert_eq!(o.flags, MsFlags::MS_NOATIME | MsFlags::MS_NOSUID);
        assert_eq!(o.data, "compress=zstd,subvol=@data");
        assert_eq!(o.read_only, Some(false));
        assert!(o.nofail);
        assert_eq!(o.calls(), vec![Call::Main(MsFlags::MS_NOATIME | MsFlags::MS_NOSUID)]);
    }

    #[test]
    fn later_words_win() {
        let o = MountOptions::parse("exec,noexec,suid,nosuid,nosuid,suid").unwrap();
        assert_eq!(o.flags, MsFlags::MS_NOEXEC);
        assert_eq!(MountOptions::parse("defaults").unwrap(), MountOptions::default());
    }

    #[test]
    fn bind_ro_needs_a_remount() {
        let o = MountOptions::parse("bind,ro").unwrap();
        assert_eq!(
            o.calls(),
            vec![
                Call::Main(MsFlags::MS_BIND | MsFlags::MS_RDONLY),
                Call::BindRemount(MsFlags::MS_BIND | MsFlags::MS_RDONLY | MsFlags::MS_REMOUNT),
            ]
        );
        // A plain bind is one call; a remount,bind,ro is already the second form.
        assert_eq!(MountOptions::parse("rbind").unwrap().calls().len(), 1);
        assert_eq!(MountOptions::parse("remount,bind,ro").unwrap().calls().len(), 1);
    }

    #[test]
    fn propagation_calls() {
        let o = MountOptions::parse("rprivate,shared").unwrap();
        assert!(o.propagation_only());
        assert_eq!(
            o.calls(),
            vec![Call::Propagation(MsFlags::MS_PRIVATE | MsFlags::MS_REC), Call::Propagation(MsFlags::MS_SHARED)]
        );
        let o = MountOptions::parse("bind,private").unwrap();
        assert!(!o.propagation_only());
        assert_eq!(o.calls(), vec![Call::Main(MsFlags::MS_BIND), Call::Propagation(MsFlags::MS_PRIVATE)]);
    }

    #[test]
    fn userspace_words_stay_out_of_data() {
        let o = MountOptions::parse(
            "defaults,auto,noauto,user,user=bob,nouser,users,owner,group,_netdev,comment=systemd.x,X-mount.mkdir,loop,offset=1M,sizelimit=0x1000",
        )
        .unwrap();
        assert_eq!(o.data, "");
        assert!(o.flags.is_empty());
        assert!(o.noauto && o.netdev && o.loop_wanted && o.wants_loop());
        assert_eq!(o.offset, Some(1 << 20));
        assert_eq!(o.sizelimit, Some(4096));
        assert_eq!(MountOptions::parse("loop=/dev/loop7").unwrap().loop_device.as_deref(), Some("/dev/loop7"));
        // Without '=' a value-taking word is a filesystem option, as in libmount.
        assert_eq!(MountOptions::parse("comment").unwrap().data, "comment");
        assert!(MountOptions::parse("offset=12q").is_err());
    }

    #[test]
    fn quotes_keep_commas() {
        let o = MountOptions::parse(r#"context="system_u:object_r:tmp_t:s0:c127,c456",noexec"#).unwrap();
        assert_eq!(o.data, r#"context="system_u:object_r:tmp_t:s0:c127,c456""#);
        assert_eq!(o.flags, MsFlags::MS_NOEXEC);
    }

    #[test]
    fn render_like_proc_mounts() {
        assert_eq!(flags_to_string(MsFlags::empty()), "rw");
        let f = MountOptions::parse("nodev,ro,relatime,nosuid,sync,nosymfollow").unwrap().flags;
        assert_eq!(flags_to_string(f), "ro,sync,nosuid,nodev,relatime,nosymfollow");
        // A rendered string parses back to the same flags.
        assert_eq!(MountOptions::parse(&flags_to_string(f)).unwrap().flags, f);
    }
}
