//! BitLocker volumes (util-linux `bitlocker.c`): a FAT-like boot sector whose
//! OEM name or layout marks it, and (Windows 7 and To Go) an FVE metadata block
//! it points to. vfat asks here too, so BitLocker is never taken for FAT.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Bytes, Fields, Le16, Le32, Le64};
use crate::probe::{Ctx, Magic, Prober, Reader, Usage};
use std::io;

const VISTA: &[u8] = b"\xeb\x52\x90-FVE-FS-";
const WIN7: &[u8] = b"\xeb\x58\x90-FVE-FS-";
const TOGO: &[u8] = b"\xeb\x58\x90MSWIN4.1";

pub static BITLOCKER: Prober = Prober {
    name: "BitLocker",
    usage: Usage::Crypto,
    magics: &[
        Magic { bytes: VISTA, kboff: 0, sboff: 0 },
        Magic { bytes: WIN7, kboff: 0, sboff: 0 },
        Magic { bytes: TOGO, kboff: 0, sboff: 0 },
    ],
    probe,
    ..Prober::BASE
};

layout! { HDR_LEN = 512;
    WIN7_SERIAL: Le32 = 67;
    WIN7_FVE_OFFSET: Le64 = 176;
    TOGO_FVE_OFFSET: Le64 = 440;
}
layout! { FVE_LEN = 12;
    FVE_SIGNATURE: Bytes<8> = 0;
    FVE_VERSION: Le16 = 10;
}
const FVE_MAGIC: &[u8; 8] = b"-FVE-FS-";

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
    let (at, win7) = if hdr.starts_with(VISTA) {
        return Ok(Some(Headers { hdr, win7: false, fve: None }));
    } else if hdr.starts_with(WIN7) {
        (WIN7_FVE_OFFSET, true)
    } else if hdr.starts_with(TOGO) {
        (TOGO_FVE_OFFSET, false)
    } else {
        return Ok(None);
    };
    let off = hdr.at(at);
    if off == 0 {
        return Ok(None);
    }
    let fve = match reader.read(off, FVE_LEN) {
        Ok(f) if f.at(FVE_SIGNATURE) == *FVE_MAGIC => f,
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(Headers { win7, hdr, fve: Some(fve) }))
}

/// libblkid's `blkid_probe_is_bitlocker`; a failed read means "no".
pub fn is_bitlocker(reader: &mut Reader) -> bool {
    matches!(headers(reader), Ok(Some(_)))
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let Some(h) = headers(ctx.reader)? else { return Ok(false) };
    if h.win7 {
        // Always zero in practice; printed with "%016d", so signed.
        let serial = h.hdr.at(WIN7_SERIAL);
        ctx.set_uuid_formatted(&serial.to_le_bytes(), format!("{:016}", serial as i32));
    }
    if let Some(fve) = h.fve {
        ctx.set_version(fve.at(FVE_VERSION).to_string());
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn win7_needs_its_fve_block() {
        let mut img = vec![0u8; 8192];
        img[..11].copy_from_slice(WIN7);
        img[WIN7_FVE_OFFSET.0 + 1] = 0x10;
        img[WIN7_SERIAL.0..WIN7_SERIAL.0 + 4].fill(0xff);
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), None);
        img[0x1000..0x1008].copy_from_slice(FVE_MAGIC);
        img[0x1000 + FVE_VERSION.0] = 2;
        let want = vec![("UUID", b"-000000000000001".to_vec()), ("VERSION", b"2".to_vec())];
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), Some(want));
        img[..11].copy_from_slice(VISTA);
        assert_eq!(probe_bytes(probe, None, img).unwrap(), Some(vec![]));
    }
}
