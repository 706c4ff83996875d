//! SCO UnixWare BFS (libblkid `bfs.c`): the magic is the whole signature.
#![forbid(unsafe_code)]

use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static BFS: Prober = Prober {
    name: "bfs",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"\xce\xfa\xad\x1b", kboff: 0, sboff: 0 }],
    probe: magic_only,
    ..Prober::BASE
};

/// The probe of a type whose magic is its whole signature (bfs, ReFS).
pub(super) fn magic_only(_: &mut Ctx) -> io::Result<bool> {
    Ok(true)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::probe::{probe_superblocks, Outcome, Reader};

    /// `prober`'s first magic at its place, and nothing else, is `prober`'s type, without tags.
    pub fn found_by_its_magic_alone(prober: &Prober) {
        let mut img = vec![0u8; 8192];
        let m = &prober.magics[0];
        img[m.offset() as usize..][..m.bytes.len()].copy_from_slice(m.bytes);
        let Outcome::Found(f) = probe_superblocks(&mut Reader::from_bytes(img)).unwrap() else { panic!() };
        assert_eq!((f.name, f.tags.len()), (prober.name, 0));
    }

    #[test]
    fn the_magic_alone_is_bfs() {
        found_by_its_magic_alone(&BFS);
    }
}
