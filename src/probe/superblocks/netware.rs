//! Novell NetWare NSS pools (libblkid `netware.c`, type `nss`).
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Fields, Le16, Uuid};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

const SB_KBOFF: u64 = 4;

pub static NETWARE: Prober = Prober {
    name: "nss",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"SPB5", kboff: SB_KBOFF, sboff: 0 }],
    probe,
    ..Prober::BASE
};

// libblkid reads the whole superblock header.
layout! { SB_LEN = 636;
    MEDIA_MAJOR: Le16 = 8;
    MEDIA_MINOR: Le16 = 10;
    POOL_ID: Uuid = 348;
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(SB_KBOFF * 1024, SB_LEN)?;
    ctx.set_uuid(&sb.at(POOL_ID));
    ctx.set_version(format!("{}.{:02}", sb.at(MEDIA_MAJOR), sb.at(MEDIA_MINOR)));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn version_with_two_digit_minor() {
        let mut img = vec![0u8; 8192];
        let sb = &mut img[4096..];
        sb[MEDIA_MAJOR.0] = 43;
        sb[MEDIA_MINOR.0] = 2;
        assert_eq!(probe_bytes(probe, None, img).unwrap(), Some(vec![("VERSION", b"43.02".to_vec())]));
    }
}
