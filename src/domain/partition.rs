//! Partitions: which mounts of `/proc/self/mountinfo` count as backup sources, and the job-name
//! suffix of a partition (decision D4).

/// File systems that live on a block device and hold data worth backing up.
const BLOCK_FS: &[&str] = &[
    "ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "exfat", "f2fs", "jfs", "reiserfs", "ntfs",
    "ntfs3", "zfs", "bcachefs",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub mount_point: String,
    pub device: String,
    pub fs_type: String,
}

/// Undoes the octal escapes (`\040` for a space, ...) mountinfo uses in paths.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every mount of mountinfo text, in order.
pub fn all_mounts(text: &str) -> impl Iterator<Item = Mount> + '_ {
    text.lines().filter_map(|line| {
        // id parent major:minor root mount-point options [optional...] - fstype source super
        let (left, right) = line.split_once(" - ")?;
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 5 || r.len() < 2 {
            return None;
        }
        Some(Mount {
            mount_point: unescape(l[4]),
            device: unescape(r[1]),
            fs_type: r[0].to_string(),
        })
    })
}

/// Keeps block-backed file systems. `exclude_under` drops mounts at or below the state
/// directory (its own pseudo mounts must never become a backup source). A mount point mounted
/// twice keeps the last (topmost) entry.
pub fn parse_mountinfo(text: &str, exclude_under: Option<&str>) -> Vec<Mount> {
    let mut out: Vec<Mount> = Vec::new();
    for m in all_mounts(text) {
        if !BLOCK_FS.contains(&m.fs_type.as_str()) {
            continue;
        }
        if exclude_under.is_some_and(|ex| is_at_or_below(&m.mount_point, ex)) {
            continue;
        }
        out.retain(|x| x.mount_point != m.mount_point);
        out.push(m);
    }
    out
}

pub fn is_at_or_below(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    path == dir || dir.is_empty() || path.starts_with(&format!("{dir}/"))
}

/// `/` -> `_ROOT`; otherwise every `/` becomes `_` (`/boot/efi` -> `_boot_efi`).
pub fn suffix(partition: &str) -> String {
    if partition == "/" {
        "_ROOT".to_string()
    } else {
        partition.replace('/', "_")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
28 27 0:25 / /tmp rw - tmpfs tmpfs rw
29 27 8:1 / /boot/efi rw shared:5 - vfat /dev/sda1 rw
30 27 8:2 / /srv/my\\040data rw - xfs /dev/sda2 rw
31 27 0:40 / /var/lib/docker/overlay2/x/merged rw - overlay overlay rw
32 27 8:3 / /var/lib/zdm-backupd/mnt/repo1 rw - ext4 /dev/sdb1 rw
33 27 8:4 / /data rw - btrfs /dev/sdc1 rw
34 27 8:5 / /data rw - ext4 /dev/sdd1 rw
";

    #[test]
    fn keeps_block_filesystems_only() {
        let m = parse_mountinfo(SAMPLE, Some("/var/lib/zdm-backupd"));
        let points: Vec<&str> = m.iter().map(|m| m.mount_point.as_str()).collect();
        assert_eq!(points, vec!["/", "/boot/efi", "/srv/my data", "/data"]);
        assert_eq!(m[1].device, "/dev/sda1");
        assert_eq!(m[1].fs_type, "vfat");
        // The topmost of two mounts on one point wins.
        assert_eq!(m[3].fs_type, "ext4");
    }

    #[test]
    fn suffixes() {
        assert_eq!(suffix("/"), "_ROOT");
        assert_eq!(suffix("/home"), "_home");
        assert_eq!(suffix("/boot/efi"), "_boot_efi");
        assert_eq!(suffix("/var/www/html"), "_var_www_html");
    }

    #[test]
    fn below() {
        assert!(is_at_or_below("/a/b", "/a"));
        assert!(is_at_or_below("/a", "/a/"));
        assert!(!is_at_or_below("/ab", "/a"));
    }
}
