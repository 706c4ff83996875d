//! Microsoft ReFS (libblkid `refs.c`): the magic is the whole signature.
#![forbid(unsafe_code)]

use super::bfs::magic_only;
use crate::probe::{Magic, Prober, Usage};

pub static REFS: Prober = Prober {
    name: "ReFS",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"\0\0\0ReFS\0", kboff: 0, sboff: 0 }],
    probe: magic_only,
    ..Prober::BASE
};

#[cfg(test)]
mod tests {
    #[test]
    fn the_magic_alone_is_refs() {
        super::super::bfs::tests::found_by_its_magic_alone(&super::REFS);
    }
}
