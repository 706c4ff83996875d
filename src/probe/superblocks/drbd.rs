//! DRBD 8.4 and 9 metadata (util-linux `drbd.c`): internal metadata 4 KiB
//! before the end of the backing device. The "UUID" is DRBD's 64-bit device
//! id in hex.
#![forbid(unsafe_code)]

use crate::probe::{Ctx, Prober, Usage};
use byteorder::{BigEndian as BE, ByteOrder};
use std::io;

pub static DRBD: Prober = Prober { name: "drbd", usage: Usage::Raid, tolerant: false, magics: &[], probe };

const MIN_SIZE: u64 = 0x10000;
const MD_OFFSET: u64 = 4096;
const DRBD_MAGIC: u32 = 0x8374_0267;
/// 8.x, 8.4 not cleanly shut down, 9.
const MAGIC_08: u32 = DRBD_MAGIC + 4;
const MAGIC_84_UNCLEAN: u32 = DRBD_MAGIC + 5;
const MAGIC_09: u32 = DRBD_MAGIC + 6;
const MAGIC: usize = 60;
const DEVICE_UUID_08: usize = 40;
const DEVICE_UUID_09: usize = 48;
/// Sizes of the 8.4 and 9 records as libblkid reads them.
const LEN_08: usize = 100;
const LEN_09: usize = 1392;
const _: () = assert!(LEN_08 <= LEN_09 && LEN_09 as u64 <= MD_OFFSET);

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let size = ctx.reader.size();
    if size < MIN_SIZE {
        return Ok(false);
    }
    let Some(md) = ctx.read_opt(size - MD_OFFSET, LEN_09)? else { return Ok(false) };
    let (uuid_at, version) = match BE::read_u32(&md[MAGIC..]) {
        MAGIC_08 | MAGIC_84_UNCLEAN => (DEVICE_UUID_08, "v08"),
        MAGIC_09 => (DEVICE_UUID_09, "v09"),
        _ => return Ok(false),
    };
    let raw = &md[uuid_at..uuid_at + 8];
    ctx.set_uuid_formatted(raw, format!("{:x}", BE::read_u64(raw)));
    ctx.set_version(version);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testutil::probe_bytes;

    #[test]
    fn v08_and_v09() {
        for (magic, at, version) in [(MAGIC_08, DEVICE_UUID_08, "v08"), (MAGIC_09, DEVICE_UUID_09, "v09")] {
            let mut img = vec![0u8; 0x10000];
            let md = &mut img[0x10000 - 4096..];
            BE::write_u32(&mut md[MAGIC..], magic);
            BE::write_u64(&mut md[at..], 0xab_cdef);
            let want = vec![("UUID", b"abcdef".to_vec()), ("VERSION", version.as_bytes().to_vec())];
            assert_eq!(probe_bytes(probe, None, img).unwrap(), Some(want));
        }
        assert_eq!(probe_bytes(probe, None, vec![0u8; 0x10000]).unwrap(), None);
    }
}
