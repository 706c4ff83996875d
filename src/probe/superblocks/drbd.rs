//! DRBD 8.4 and 9 metadata (util-linux `drbd.c`): internal metadata 4 KiB
//! before the end of the backing device. The "UUID" is DRBD's 64-bit device
//! id in hex.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Be32, Be64, Bytes, Fields};
use crate::probe::{Ctx, Prober, Usage};
use std::io;

pub static DRBD: Prober = Prober { name: "drbd", usage: Usage::Raid, probe, ..Prober::BASE };

const MIN_SIZE: u64 = 0x10000;
const MD_OFFSET: u64 = 4096;
const DRBD_MAGIC: u32 = 0x8374_0267;
/// 8.x, 8.4 not cleanly shut down, 9.
const MAGIC_08: u32 = DRBD_MAGIC + 4;
const MAGIC_84_UNCLEAN: u32 = DRBD_MAGIC + 5;
const MAGIC_09: u32 = DRBD_MAGIC + 6;
// The start of the 8.4 and 9 records, which differ in where the device id is
// but not in where the magic is. libblkid reads 100 and 1392 bytes, which
// always fit 4 KiB before the end; the rest is of no use here.
layout! { LEN = 64;
    MAGIC: Be32 = 60;
    DEVICE_UUID_08: Bytes<8> = 40;
    DEVICE_UUID_09: Bytes<8> = 48;
}
const _: () = assert!(LEN as u64 <= MD_OFFSET);

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let size = ctx.reader.size();
    if size < MIN_SIZE {
        return Ok(false);
    }
    let Some(md) = ctx.read_opt(size - MD_OFFSET, LEN)? else { return Ok(false) };
    let (uuid, version) = match md.at(MAGIC) {
        MAGIC_08 | MAGIC_84_UNCLEAN => (DEVICE_UUID_08, "v08"),
        MAGIC_09 => (DEVICE_UUID_09, "v09"),
        _ => return Ok(false),
    };
    let raw = md.at(uuid);
    ctx.set_uuid_formatted(&raw, format!("{:x}", raw.at(Be64(0))));
    ctx.set_version(version);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::field::put;
    use crate::support::probe::probe_bytes;

    #[test]
    fn v08_and_v09() {
        for (magic, at, version) in [(MAGIC_08, DEVICE_UUID_08, "v08"), (MAGIC_09, DEVICE_UUID_09, "v09")] {
            let mut img = vec![0u8; 0x10000];
            let md = &mut img[0x10000 - 4096..];
            put(md, MAGIC.0, &magic.to_be_bytes());
            put(md, at.0, &0xab_cdefu64.to_be_bytes());
            let want = vec![("UUID", b"abcdef".to_vec()), ("VERSION", version.as_bytes().to_vec())];
            assert_eq!(probe_bytes(probe, None, img).unwrap(), Some(want));
        }
        assert_eq!(probe_bytes(probe, None, vec![0u8; 0x10000]).unwrap(), None);
    }
}
