//! BitLocker volumes (util-linux `bitlocker.c`): a FAT-like boot sector whose
//! OEM name or layout marks it, and (Windows 7 and To Go) an FVE metadata block
//! it points to. vfat asks here too, so BitLocker is never taken for FAT.
#![forbid(unsafe_code)]

use crate::probe::{Ctx, Magic, Prober, Reader, Usage};
use std::io;

const VISTA: &[u8] = b"\xeb\x52\x90-FVE-FS-";
const WIN7: &[u8] = b"\xeb\x58\x90-FVE-FS-";
const TOGO: &[u8] = b"\xeb\x58\x90MSWIN4.1";

pub static BITLOCKER: Prober = Prober {
    name: "BitLocker",
    usage: Usage::Crypto,
    tolerant: false,
    magics: &[
        Magic { bytes: VISTA, kboff: 0, sboff: 0 },
        Magic { bytes: WIN7, kboff: 0, sboff: 0 },
        Magic { bytes: TOGO, kboff: 0, sboff: 0 },
    ],
    probe,
};

const HDR_LEN: usize = 512;
const WIN7_SERIAL: usize = 67;
const WIN7_FVE_OFFSET: usize = 176;
const TOGO_FVE_OFFSET: usize = 440;
const FVE_MAGIC: &[u8] = b"-FVE-FS-";
const FVE_VERSION: usize = 10;
const FVE_LEN: usize = 12;

/// What the boot sector says: the header, and the FVE block unless Vista's.
struct Headers {
    hdr: Vec<u8>,
    win7: bool,
    fve: Option<Vec<u8>>,
}

/// libblkid's `get_bitlocker_headers`: `None` when this is not BitLocker.
fn headers(reader: &mut Reader) -> io::Result<Option<Headers>> {
    let hdr = match reader.read(0, HDR_LEN) {
        Ok(h) => h,
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    };
    let at = if hdr.starts_with(VISTA) {
        return Ok(Some(Headers { hdr, win7: false, fve: None }));
    } else if hdr.starts_with(WIN7) {
        WIN7_FVE_OFFSET
    } else if hdr.starts_with(TOGO) {
        TOGO_FVE_OFFSET
    } else {
        return Ok(None);
    };
    let off = u64::from_le_bytes(hdr[at..at + 8].try_into().expect("8 bytes"));
    if off == 0 {
        return Ok(None);
    }
    let fve = match reader.read(off, FVE_LEN) {
        Ok(f) if f.starts_with(FVE_MAGIC) => f,
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(Headers { win7: at == WIN7_FVE_OFFSET, hdr, fve: Some(fve) }))
}

/// libblkid's `blkid_probe_is_bitlocker`; a failed read means "no".
pub fn is_bitlocker(reader: &mut Reader) -> bool {
    matches!(headers(reader), Ok(Some(_)))
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let Some(h) = headers(ctx.reader)? else { return Ok(false) };
    if h.win7 {
        // Always zero in practice; printed with "%016d", so signed.
        let s = &h.hdr[WIN7_SERIAL..WIN7_SERIAL + 4];
        ctx.set_uuid_formatted(s, format!("{:016}", i32::from_le_bytes([s[0], s[1], s[2], s[3]])));
    }
    if let Some(fve) = h.fve {
        ctx.set_version(u16::from_le_bytes([fve[FVE_VERSION], fve[FVE_VERSION + 1]]).to_string());
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testutil::probe_bytes;

    #[test]
    fn win7_needs_its_fve_block() {
        let mut img = vec![0u8; 8192];
        img[..11].copy_from_slice(WIN7);
        img[WIN7_FVE_OFFSET + 1] = 0x10;
        img[WIN7_SERIAL..WIN7_SERIAL + 4].fill(0xff);
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), None);
        img[0x1000..0x1008].copy_from_slice(FVE_MAGIC);
        img[0x1000 + FVE_VERSION] = 2;
        let want = vec![("UUID", b"-000000000000001".to_vec()), ("VERSION", b"2".to_vec())];
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), Some(want));
        img[..11].copy_from_slice(VISTA);
        assert_eq!(probe_bytes(probe, None, img).unwrap(), Some(vec![]));
    }
}
