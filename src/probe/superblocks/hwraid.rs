//! Where firmware ("fake") RAID controllers keep their metadata: in the last
//! sectors of each member disk. libblkid looks for it only on whole disks and
//! image files, never on partitions, and only from 64 KiB up (`*_raid.c`).
#![forbid(unsafe_code)]

use crate::probe::Ctx;
use std::io;

/// Smaller devices are not searched for firmware-RAID metadata.
pub(super) const MIN_SIZE: u64 = 0x10000;
/// The unit the offsets from the end are counted in, whatever the disk's sectors.
pub(super) const SECTOR: u64 = 0x200;

/// Where `back` units of `unit` bytes before the end of the device start
/// (the device size rounded down to whole units), if the device is a whole
/// disk or a file of at least `min_size` bytes.
pub(super) fn from_end(ctx: &Ctx, min_size: u64, back: u64, unit: u64) -> Option<u64> {
    let size = ctx.reader.size();
    if size < min_size || !ctx.medium.disk_or_file() || unit == 0 {
        return None;
    }
    (size / unit).checked_sub(back)?.checked_mul(unit)
}

/// `len` bytes at [`from_end`]`(MIN_SIZE, back, SECTOR)`, with their offset;
/// `None` when the device does not qualify or the bytes are not there.
pub(super) fn tail(ctx: &mut Ctx, back: u64, len: usize) -> io::Result<Option<(u64, Vec<u8>)>> {
    let Some(off) = from_end(ctx, MIN_SIZE, back, SECTOR) else { return Ok(None) };
    Ok(ctx.read_opt(off, len)?.map(|b| (off, b)))
}

/// [`tail`], but only when `magic` is at `at` in it: the magic is read alone
/// first, as almost every device has none.
pub(super) fn tail_with(ctx: &mut Ctx, back: u64, at: usize, magic: &[u8], len: usize) -> io::Result<Option<Vec<u8>>> {
    let Some(off) = from_end(ctx, MIN_SIZE, back, SECTOR) else { return Ok(None) };
    let Some(start) = off.checked_add(at as u64) else { return Ok(None) };
    if ctx.read_opt(start, magic.len())?.as_deref() != Some(magic) {
        return Ok(None);
    }
    ctx.read_opt(off, len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{Medium, Reader};

    #[test]
    fn only_whole_disks_of_64_kib_and_more() {
        let mut r = Reader::from_bytes(vec![0; 0x10000 + 100]);
        let mut ctx = Ctx::new(&mut r, None);
        assert_eq!(from_end(&ctx, MIN_SIZE, 1, SECTOR), Some(0x10000 - 0x200));
        assert_eq!(from_end(&ctx, MIN_SIZE, 0x81, SECTOR), None);
        assert_eq!(tail(&mut ctx, 2, 4).unwrap().map(|t| t.0), Some(0x10000 - 0x400));
        assert_eq!(tail_with(&mut ctx, 1, 8, &[0, 0], 16).unwrap(), Some(vec![0; 16]));
        assert_eq!(tail_with(&mut ctx, 1, 8, &[1], 16).unwrap(), None);
        ctx.medium = Medium { regular_file: false, whole_disk: false, cdrom: false, sector_size: 512 };
        assert_eq!(from_end(&ctx, MIN_SIZE, 1, SECTOR), None);
        ctx.medium.whole_disk = true;
        assert!(from_end(&ctx, MIN_SIZE, 1, SECTOR).is_some());
        ctx.medium.whole_disk = false;
        assert_eq!(from_end(&ctx, MIN_SIZE, 1, SECTOR), None);
        let mut r = Reader::from_bytes(vec![0; 0xffff]);
        assert_eq!(from_end(&Ctx::new(&mut r, None), MIN_SIZE, 1, SECTOR), None);
    }
}
