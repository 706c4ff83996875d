//! The CRCs that on-disk formats check, from the `crc` crate: one place for
//! each variant, under the name the format's documentation gives it.
#![forbid(unsafe_code)]

use crc::{Algorithm, Crc, CRC_32_ISCSI, CRC_32_ISO_HDLC};

/// CRC-32 (IEEE 802.3, reflected): UEFI's GPT headers and entry arrays.
pub const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// CRC-32C (Castagnoli): Stratis and mpool superblocks.
pub const CRC32C: Crc<u32> = Crc::<u32>::new(&CRC_32_ISCSI);

/// The reflected CRC-32 register with neither inversion, so that a caller's
/// seed and result are the register itself.
const RAW_CRC32: Algorithm<u32> = Algorithm { init: 0, xorout: 0, check: 0x2dfd_2d88, residue: 0, ..CRC_32_ISO_HDLC };

/// Linux's `crc32_le` (util-linux `ul_crc32`): the register from `seed`, no
/// final inversion. NILFS seeds it with its superblock's seed, LVM2 with
/// 0xf597a6cf.
pub fn crc32_le(seed: u32, data: &[u8]) -> u32 {
    const RAW: Crc<u32> = Crc::<u32>::new(&RAW_CRC32);
    // The crate reflects a custom initial value for reflected algorithms.
    let mut digest = RAW.digest_with_initial(seed.reverse_bits());
    digest.update(data);
    digest.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bit-at-a-time definition, to check the crate's table against.
    fn reference(seed: u32, data: &[u8]) -> u32 {
        data.iter().fold(seed, |mut crc, &b| {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
            }
            crc
        })
    }

    #[test]
    fn check_values() {
        assert_eq!(CRC32.checksum(b"123456789"), 0xcbf4_3926);
        assert_eq!(CRC32C.checksum(b"123456789"), 0xe306_9283);
        assert_eq!(crc32_le(!0, b"123456789"), !0xcbf4_3926);
    }

    #[test]
    fn raw_register_matches_the_definition_for_any_seed() {
        let data: Vec<u8> = (0..300u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for seed in [0, 1, 0xf597_a6cf, 0xdead_beef, !0] {
            for len in [0, 1, 7, 64, 300] {
                assert_eq!(crc32_le(seed, &data[..len]), reference(seed, &data[..len]), "{seed:#x} {len}");
            }
        }
    }
}
