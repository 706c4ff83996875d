//! SquashFS 4 and the older SquashFS 1–3 (libblkid `squashfs.c`).
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Endian, Fields, U16};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static SQUASHFS: Prober = Prober {
    name: "squashfs",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"hsqs", kboff: 0, sboff: 0 }],
    probe: probe_squashfs,
    ..Prober::BASE
};

/// Versions before 4 were written in the byte order of the host that made them.
pub static SQUASHFS3: Prober = Prober {
    name: "squashfs3",
    usage: Usage::Filesystem,
    magics: &[
        Magic { bytes: b"sqsh", kboff: 0, sboff: 0 }, // big-endian
        Magic { bytes: b"hsqs", kboff: 0, sboff: 0 }, // little-endian
    ],
    probe: probe_squashfs3,
    ..Prober::BASE
};

layout! { SB_LEN = 32;
    S_MAJOR: U16 = 28;
    S_MINOR: U16 = 30;
}

fn probe_squashfs(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(0, SB_LEN)?;
    let (major, minor) = (sb.at_in(Endian::Little, S_MAJOR), sb.at_in(Endian::Little, S_MINOR));
    if major < 4 {
        return Ok(false);
    }
    ctx.set_version(format!("{major}.{minor}"));
    Ok(true)
}

fn probe_squashfs3(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(0, SB_LEN)?;
    let big_endian = ctx.magic.is_some_and(|m| m.bytes == b"sqsh");
    let e = if big_endian { Endian::Big } else { Endian::Little };
    let (major, minor) = (sb.at_in(e, S_MAJOR), sb.at_in(e, S_MINOR));
    if major > 3 {
        return Ok(false);
    }
    ctx.set_version(format!("{major}.{minor}"));
    ctx.set_block_size(1024);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Reader;

    fn run(prober: &'static Prober, magic: &[u8; 4], version: [u8; 4]) -> Option<Vec<(&'static str, Vec<u8>)>> {
        let mut img = vec![0u8; 4096];
        img[..4].copy_from_slice(magic);
        img[S_MAJOR.0..S_MAJOR.0 + 4].copy_from_slice(&version);
        let mut r = Reader::from_bytes(img);
        let magic = prober.magics.iter().find(|m| m.bytes == magic);
        let mut ctx = Ctx::new(&mut r, magic);
        (prober.probe)(&mut ctx).unwrap().then(|| ctx.into_tags().into_iter().map(|t| (t.name, t.value)).collect())
    }

    #[test]
    fn version_decides_between_squashfs_and_squashfs3() {
        let v4 = [4, 0, 0, 0];
        assert_eq!(run(&SQUASHFS, b"hsqs", v4), Some(vec![("VERSION", b"4.0".to_vec())]));
        assert_eq!(run(&SQUASHFS3, b"hsqs", v4), None);
        let v31_le = [3, 0, 1, 0];
        assert_eq!(run(&SQUASHFS, b"hsqs", v31_le), None);
        let want = vec![("VERSION", b"3.1".to_vec()), ("BLOCK_SIZE", b"1024".to_vec())];
        assert_eq!(run(&SQUASHFS3, b"hsqs", v31_le), Some(want.clone()));
        assert_eq!(run(&SQUASHFS3, b"sqsh", [0, 3, 0, 1]), Some(want));
    }
}
