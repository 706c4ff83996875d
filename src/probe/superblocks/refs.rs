//! Microsoft ReFS (libblkid `refs.c`): the magic is the whole signature.
#![forbid(unsafe_code)]

use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static REFS: Prober = Prober {
    name: "ReFS",
    usage: Usage::Filesystem,
    tolerant: false,
    magics: &[Magic { bytes: b"\0\0\0ReFS\0", kboff: 0, sboff: 0 }],
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
    fn the_magic_alone_is_refs() {
        let mut img = vec![0u8; 8192];
        img[..8].copy_from_slice(REFS.magics[0].bytes);
        let Outcome::Found(f) = probe_superblocks(&mut Reader::from_bytes(img)).unwrap() else { panic!() };
        assert_eq!((f.name, f.tags.len()), ("ReFS", 0));
    }
}
