//! Ceph BlueStore block devices (util-linux `bluestore.c`): the magic text at
//! the start is all libblkid checks.
#![forbid(unsafe_code)]

use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static BLUESTORE: Prober = Prober {
    name: "ceph_bluestore",
    usage: Usage::Other,
    magics: &[Magic { bytes: b"bluestore block device", kboff: 0, sboff: 0 }],
    probe,
    ..Prober::BASE
};

fn probe(_: &mut Ctx) -> io::Result<bool> {
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{find_magic, Reader};

    #[test]
    fn the_magic_is_the_whole_check() {
        let mut img = vec![0u8; 4096];
        img[..22].copy_from_slice(b"bluestore block device");
        let mut r = Reader::from_bytes(img.clone());
        assert!(find_magic(&mut r, &BLUESTORE).unwrap().is_some());
        img[21] = b'E';
        let mut r = Reader::from_bytes(img);
        assert!(find_magic(&mut r, &BLUESTORE).unwrap().is_none());
    }
}
