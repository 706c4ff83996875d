//! Linux swap areas and hibernation images kept in them (libblkid `swap.c`).
//!
//! The signature sits in the last ten bytes of the first page, whose size is
//! not known: libblkid tries page sizes from 4 KiB to 64 KiB.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Bytes, Fields, Le32, Uuid};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

/// libblkid's `minsz`: ten pages.
const MIN_SIZE: u64 = 10 * 4096;

/// The swap header follows 1 KiB left for a boot loader or disk label.
const HEADER: u64 = 1024;
layout! { HEADER_LEN = 516;
    VERSION: Le32 = 0;
    LAST_PAGE: Le32 = 4;
    UUID: Uuid = 12;
    VOLUME: Bytes<16> = 28;
    /// `padding[32]` and `padding[33]`: mkswap leaves them zero; anything else
    /// there means the label and UUID fields are not to be trusted.
    PADDING_32: Bytes<8> = 44 + 32 * 4;
}

/// TuxOnIce keeps a valid swap signature and puts its own at the start.
const TOI_MAGIC: &[u8] = b"\xed\xc3\x02\xe9\x98\x56\xe5\x0c";

/// `magics` at the end of each possible first page (4 KiB to 64 KiB), in
/// libblkid's order: page size first, then magic; `first` comes before all.
macro_rules! at_page_ends {
    ([$($first:expr)?] $($m:expr),*) => {
        &[
            $($first,)?
            $(Magic { bytes: $m, kboff: 0, sboff: 0xff6 },)*
            $(Magic { bytes: $m, kboff: 0, sboff: 0x1ff6 },)*
            $(Magic { bytes: $m, kboff: 0, sboff: 0x3ff6 },)*
            $(Magic { bytes: $m, kboff: 0, sboff: 0x7ff6 },)*
            $(Magic { bytes: $m, kboff: 0, sboff: 0xfff6 },)*
        ]
    };
}

pub static SWAP: Prober = Prober {
    name: "swap",
    usage: Usage::Other,
    magics: at_page_ends!([] b"SWAP-SPACE", b"SWAPSPACE2"),
    min_size: MIN_SIZE,
    probe: probe_swap,
    ..Prober::BASE
};

pub static SWSUSPEND: Prober = Prober {
    name: "swsuspend",
    usage: Usage::Other,
    magics: at_page_ends!(
        [Magic { bytes: TOI_MAGIC, kboff: 0, sboff: 0 }]
        b"S1SUSPEND", b"S2SUSPEND", b"ULSUSPEND", b"LINHIB0001"
    ),
    min_size: MIN_SIZE,
    probe: probe_swsuspend,
    ..Prober::BASE
};

/// Label, UUID and version from the swap header (libblkid's `swap_set_info`).
fn set_info(ctx: &mut Ctx, version: &str) -> io::Result<bool> {
    let hdr = ctx.read(HEADER, HEADER_LEN)?;
    if version == "1" {
        // Either byte order: the area may come from a machine of the other endianness.
        let v = hdr.at(VERSION);
        if v != 1 && v.swap_bytes() != 1 {
            return Ok(false);
        }
        if hdr.at(LAST_PAGE) == 0 {
            return Ok(false);
        }
    }
    if hdr.at(PADDING_32) == [0; 8] {
        let volume = hdr.at(VOLUME);
        if volume[0] != 0 {
            ctx.set_label(&volume);
        }
        ctx.set_uuid(&hdr.at(UUID));
    }
    ctx.set_version(version);
    Ok(true)
}

fn probe_swap(ctx: &mut Ctx) -> io::Result<bool> {
    let Some(magic) = ctx.magic else { return Ok(false) };
    if ctx.read(0, TOI_MAGIC.len())? == TOI_MAGIC {
        return Ok(false);
    }
    match magic.bytes {
        // Version 0 areas have no header fields.
        b"SWAP-SPACE" => {
            ctx.set_version("0");
            Ok(true)
        }
        b"SWAPSPACE2" => set_info(ctx, "1"),
        _ => Ok(false),
    }
}

fn probe_swsuspend(ctx: &mut Ctx) -> io::Result<bool> {
    let Some(magic) = ctx.magic else { return Ok(false) };
    let version = match magic.bytes {
        b"S1SUSPEND" => "s1suspend",
        b"S2SUSPEND" => "s2suspend",
        b"ULSUSPEND" => "ulsuspend",
        b"LINHIB0001" => "linhib0001",
        m if m == TOI_MAGIC => "tuxonice",
        _ => return Ok(false),
    };
    set_info(ctx, version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{find_magic, Reader, Tag};

    fn run(prober: &'static Prober, img: Vec<u8>) -> Option<Vec<Tag>> {
        let mut r = Reader::from_bytes(img);
        let magic = find_magic(&mut r, prober).unwrap();
        magic?;
        let mut ctx = Ctx::new(&mut r, magic);
        matches!((prober.probe)(&mut ctx), Ok(true)).then(|| ctx.into_tags())
    }

    fn area(page: usize, magic: &[u8]) -> Vec<u8> {
        let mut img = vec![0u8; 64 * 1024];
        img[page - 10..page - 10 + magic.len()].copy_from_slice(magic);
        img[1024..1028].copy_from_slice(&1u32.to_le_bytes());
        img[1028..1032].copy_from_slice(&15u32.to_le_bytes());
        img[1024 + UUID.0] = 0x42;
        img[1024 + VOLUME.0..1024 + VOLUME.0 + 3].copy_from_slice(b"sw ");
        img
    }

    #[test]
    fn v1_on_any_page_size() {
        for page in [4096, 8192, 16384, 32768, 65536] {
            let tags = run(&SWAP, area(page, b"SWAPSPACE2")).unwrap();
            let names: Vec<_> = tags.iter().map(|t| t.name).collect();
            assert_eq!(names, ["LABEL", "UUID", "VERSION"]);
            assert_eq!(tags[0].value, b"sw");
        }
    }

    #[test]
    fn v0_has_only_a_version_and_garbage_hides_label() {
        let tags = run(&SWAP, area(4096, b"SWAP-SPACE")).unwrap();
        assert_eq!(tags, [Tag { name: "VERSION", value: b"0".to_vec() }]);
        let mut img = area(4096, b"SWAPSPACE2");
        img[1024 + PADDING_32.0] = 1;
        let tags = run(&SWAP, img).unwrap();
        assert_eq!(tags, [Tag { name: "VERSION", value: b"1".to_vec() }]);
    }

    #[test]
    fn bad_version_zero_last_page_and_tuxonice_are_not_swap() {
        let mut img = area(4096, b"SWAPSPACE2");
        img[1024] = 2;
        assert!(run(&SWAP, img).is_none());
        let mut img = area(4096, b"SWAPSPACE2");
        img[1028..1032].fill(0);
        assert!(run(&SWAP, img).is_none());
        let mut img = area(4096, b"SWAPSPACE2");
        img[..8].copy_from_slice(TOI_MAGIC);
        assert!(run(&SWAP, img.clone()).is_none());
        let tags = run(&SWSUSPEND, img).unwrap();
        assert_eq!(tags.last().unwrap().value, b"tuxonice");
    }

    #[test]
    fn small_devices_are_ignored() {
        let mut img = area(4096, b"SWAPSPACE2");
        img.truncate(9 * 4096);
        assert_eq!(crate::support::probe::probe_prober(&SWAP, img).unwrap(), None);
    }
}
