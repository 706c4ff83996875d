//! The probing chain, as libblkid's `blkid_do_safeprobe` runs it: the
//! superblock probers in their table's order (the first RAID or crypto
//! signature ends the search, more than one other is ambivalent), then the
//! partition table and a partition's entry in its disk's table.
#![forbid(unsafe_code)]

use super::ctx::SCSI_CDROM_MAJOR;
use super::*;
use std::io;

/// libblkid's `blkid_do_safeprobe` as `blkid -p` drives it (`lowprobe_superblocks`
/// in misc-utils/blkid.c): superblocks, then the partition table and the
/// partition's entry in its disk's table.
pub(super) fn probe_device(r: &mut Reader, opts: &Options, dev: Option<&device::DeviceInfo>) -> io::Result<Probed> {
    let sector_size = dev.map_or(512, |d| d.sector_size);
    // A small whole disk that is partitioned is not also searched for a
    // filesystem: floppy-sized images often carry both.
    if opts.small_disk_table_only && opts.partitions && r.size() <= TINY && dev.is_some_and(|d| d.whole_disk) {
        let disk = partitions::Disk { sector_size, fs_type: None };
        if let Some(t) = partitions::probe_table(r, disk)? {
            return Ok(Probed::Tags(finish(table_tags(&t))));
        }
    }
    let mut tags = Vec::new();
    let mut fs_type = None;
    let mut ignore_pt = false;
    // pvcreate wipes the first 8 KiB of the device, and libblkid remembers that
    // area when it finds an LVM2 label (its "wiper", lvm.c): a dos table in it
    // was written after the PV, so the table is probed although LVM is a RAID
    // usage, and when it is dos (the only table prober that checks the area;
    // gpt.c's check misses it) the LVM result is dropped for the table.
    let mut lvm_wiped = false;
    if opts.superblocks {
        let allowed = |p: &Prober| match (&opts.usages, &opts.types) {
            // blkid applies -u and ignores -n when both are given.
            (Some(u), _) => u.allows(p.usage.as_str()),
            (None, Some(t)) => t.allows(p.name),
            (None, None) => true,
        };
        let medium = Medium {
            regular_file: dev.is_none(),
            whole_disk: dev.is_some_and(|d| d.whole_disk),
            // libblkid asks the drive (CDROM_GET_CAPABILITY); SCSI CD-ROMs
            // (sr) are the ones with a major number of their own.
            cdrom: dev.is_some_and(|d| d.whole_disk && d.major == SCSI_CDROM_MAJOR) && r.size() > TINY,
            sector_size,
        };
        match safeprobe(r, medium, &allowed)? {
            Outcome::Nothing => {}
            Outcome::Ambivalent(v) => return Ok(Probed::Ambivalent(v)),
            Outcome::Found(f) => {
                // A RAID member shows its array's partition table too (RAID1
                // mirrors it); that table does not belong to the member.
                ignore_pt = f.usage == Usage::Raid;
                lvm_wiped = f.name == LVM_WIPER_TYPE;
                fs_type = Some(f.name);
                tags = f.tags;
                tags.push(Tag { name: "TYPE", value: f.name.as_bytes().to_vec() });
                tags.push(Tag { name: "USAGE", value: f.usage.as_str().as_bytes().to_vec() });
            }
        }
    }
    if opts.partitions {
        if !ignore_pt || lvm_wiped {
            let disk = partitions::Disk { sector_size, fs_type };
            if let Some(t) = partitions::probe_table(r, disk)? {
                if lvm_wiped && t.scheme == "dos" {
                    tags.clear();
                }
                tags.extend(table_tags(&t));
            }
        }
        if opts.part_entry {
            if let Some(d) = dev {
                tags.extend(device::part_entry_tags(d)?);
            }
        }
    }
    Ok(if tags.is_empty() { Probed::Nothing } else { Probed::Tags(finish(tags)) })
}

/// The type whose prober marks the start of the device as wiped (see `lvm_wiped`).
const LVM_WIPER_TYPE: &str = "LVM2_member";

/// libblkid's "tiny device" (`BLKID_FL_TINY_DEV`): floppy-sized or smaller.
const TINY: u64 = 1440 * 1024;

fn table_tags(t: &partitions::Table) -> Vec<Tag> {
    let mut tags = Vec::new();
    if let Some(id) = &t.id {
        tags.push(Tag { name: "PTUUID", value: id.clone().into_bytes() });
    }
    tags.push(Tag { name: "PTTYPE", value: t.scheme.as_bytes().to_vec() });
    tags
}

/// Values are C strings in libblkid: `blkid` prints each up to its first NUL.
fn finish(mut tags: Vec<Tag>) -> Vec<Tag> {
    for t in &mut tags {
        if let Some(n) = t.value.iter().position(|&b| b == 0) {
            t.value.truncate(n);
        }
    }
    tags
}

/// The first of `prober`'s magics present on the device, as libblkid's
/// `blkid_probe_get_idmag` finds it.
pub fn find_magic(reader: &mut Reader, prober: &'static Prober) -> io::Result<Option<&'static Magic>> {
    for m in prober.magics {
        // libblkid reads the whole KiB holding the magic: a device that ends
        // inside it does not have the magic even if its bytes are there.
        let within = m.offset() % 1024;
        if !reader.fits(m.offset() - within, (within + m.bytes.len() as u64).max(1024)) {
            continue;
        }
        match reader.read(m.offset(), m.bytes.len()) {
            Ok(b) if b == m.bytes => return Ok(Some(m)),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Run one prober at the device as the chain runs it: its minimum device
/// size, then its magics, then its function.
pub fn run_one(reader: &mut Reader, medium: Medium, prober: &'static Prober) -> io::Result<Option<Found>> {
    // superblocks.c checks `minsz` before it looks for a magic.
    if prober.min_size > reader.size() {
        return Ok(None);
    }
    let magic = match find_magic(reader, prober)? {
        None if !prober.magics.is_empty() => return Ok(None),
        found => found,
    };
    let mut ctx = Ctx::new(reader, magic);
    ctx.medium = medium;
    match (prober.probe)(&mut ctx) {
        Ok(true) => Ok(Some(Found { name: prober.name, usage: prober.usage, tags: ctx.into_tags() })),
        Ok(false) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

/// Probe for filesystem, RAID and crypto signatures as libblkid's
/// `superblocks_safeprobe` does: the first RAID or crypto signature ends the
/// search; otherwise every prober runs and more than one result, unless all
/// are tolerant, is ambivalent.
pub fn probe_superblocks(reader: &mut Reader) -> io::Result<Outcome> {
    safeprobe(reader, Medium::default(), &|_| true)
}

/// [`probe_superblocks`] with only the probers `allowed` lets through (`-n`, `-u`).
fn safeprobe(reader: &mut Reader, medium: Medium, allowed: &dyn Fn(&Prober) -> bool) -> io::Result<Outcome> {
    // libblkid ignores devices of 1024 bytes or less (extended-partition stubs).
    if reader.size() <= 1024 {
        return Ok(Outcome::Nothing);
    }
    let tiny = reader.size() <= TINY;
    let mut found: Vec<Found> = Vec::new();
    let mut intolerant = 0;
    // Once the verdict is "ambivalent", the rest of the table is still run:
    // the list of candidates (`ID_FS_AMBIVALENT`) names every match.
    let mut ambivalent = false;
    for &prober in PROBERS {
        if !allowed(prober) {
            continue;
        }
        // No RAID on floppies, no RAID, swap or journal on CDs.
        if (tiny || medium.cdrom) && prober.usage == Usage::Raid || medium.cdrom && prober.usage == Usage::Other {
            continue;
        }
        let Some(f) = run_one(reader, medium, prober)? else { continue };
        // On a floppy-sized device the first signature is the answer.
        if tiny && found.is_empty() {
            return Ok(Outcome::Found(f));
        }
        if ambivalent {
            found.push(f);
            continue;
        }
        let ends = matches!(f.usage, Usage::Raid | Usage::Crypto);
        if !prober.tolerant && !ends {
            intolerant += 1;
        }
        found.push(f);
        if ends {
            if found.len() > 1 && intolerant > 0 {
                ambivalent = true;
                continue;
            }
            break;
        }
    }
    Ok(match found.len() {
        0 => Outcome::Nothing,
        1 => Outcome::Found(found.remove(0)),
        _ if intolerant == 0 => Outcome::Found(found.remove(0)),
        _ => Outcome::Ambivalent(found),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prober_runs_on_devices_of_its_minimum_size_and_up() {
        // A swap area of exactly ten pages (swap's `minsz`), then one byte short.
        let swap: &'static Prober = PROBERS.iter().find(|p| p.name == "swap").unwrap();
        let min = swap.min_size as usize;
        let mut img = vec![0u8; min];
        img[4086..4096].copy_from_slice(b"SWAPSPACE2");
        img[1024] = 1;
        img[1028] = 9;
        let run = |img: Vec<u8>| run_one(&mut Reader::from_bytes(img), Medium::default(), swap).unwrap();
        assert_eq!(run(img.clone()).map(|f| f.name), Some("swap"));
        img.pop();
        assert!(run(img).is_none());
    }

    #[test]
    fn no_raid_or_other_signatures_on_cds() {
        // A swap signature at the end of the first page, then also a JMicron member at the end.
        let mut swap = vec![0u8; 2 << 20];
        swap[4086..4096].copy_from_slice(b"SWAPSPACE2");
        swap[1024] = 1;
        swap[1028] = 9;
        let mut jm = swap.clone();
        let n = jm.len();
        jm[n - 512..n - 510].copy_from_slice(b"JM");
        let run = |img: &[u8], medium: Medium| {
            let mut r = Reader::from_bytes(img.to_vec());
            match safeprobe(&mut r, medium, &|_| true).unwrap() {
                Outcome::Found(f) => Some(f.name),
                _ => None,
            }
        };
        assert_eq!(run(&swap, Medium::default()), Some("swap"));
        assert_eq!(run(&jm, Medium::default()), Some("jmicron_raid_member"));
        let cd = Medium { regular_file: false, whole_disk: true, cdrom: true, sector_size: 2048 };
        assert_eq!(run(&swap, cd), None);
        assert_eq!(run(&jm, cd), None);
    }
}
