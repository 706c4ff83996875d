//! SCO UnixWare BFS (libblkid `bfs.c`): the magic is the whole signature.
#![forbid(unsafe_code)]

use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static BFS: Prober = Prober {
    name: "bfs",
    usage: Usage::Filesystem,
    tolerant: false,
    magics: &[Magic { bytes: b"\xce\xfa\xad\x1b", kboff: 0, sboff: 0 }],
    probe,
};

fn probe(_: &mut Ctx) -> io::Result<bool> {
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{probe_superblocks, Outcome, Reader};

    #[test]
    fn the_magic_alone_is_bfs() {
        let mut img = vec![0u8; 8192];
        img[..4].copy_from_slice(BFS.magics[0].bytes);
        let Outcome::Found(f) = probe_superblocks(&mut Reader::from_bytes(img)).unwrap() else { panic!() };
        assert_eq!((f.name, f.tags.len()), ("bfs", 0));
    }
}
